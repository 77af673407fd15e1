"""Issue 15: every status column has a transition table, applied through one helper and mirrored by a
database CHECK on its allowed values (``core/transitions.py``, ADR 0004)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models, transaction

from megalayer.api.tests.test_servers_api import alice_server  # noqa: F401 (fixture)
from megalayer.core.transitions import TABLES, StatusTable
from megalayer.provisioning.models import Operation


def _status_columns() -> list[tuple[type[models.Model], models.Field[object, object]]]:
    found = []
    for model in apps.get_models():
        if not model.__module__.startswith("megalayer."):
            continue
        for field in model._meta.fields:
            if field.name == "status" and field.choices:
                found.append((model, field))
    return found


def test_the_platform_has_seventeen_status_columns_each_with_its_table():
    columns = _status_columns()
    assert len(columns) == 17
    missing = [model._meta.label for model, field in columns if f"{model._meta.label}.{field.name}" not in TABLES]
    assert missing == []


@pytest.mark.parametrize("key", sorted(TABLES))
def test_a_table_names_exactly_the_columns_choices_and_its_check_is_declared(key: str):
    table = TABLES[key]
    model = apps.get_model(table.model)
    field = model._meta.get_field(table.field)
    assert [value for value, _ in field.choices] == list(table.choices.values)
    declared = {c.name: c for c in model._meta.constraints}
    expected = table.constraint()
    assert expected.name in declared
    assert declared[expected.name] == expected


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(TABLES))
def test_the_database_holds_each_check(key: str):
    table = TABLES[key]
    model = apps.get_model(table.model)
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    name = table.constraint().name
    assert name in constraints
    assert constraints[name]["check"] is True


@pytest.mark.usefixtures("alice_server")
def test_an_undeclared_status_is_refused_by_the_database_and_nothing_changes():
    operation = Operation.objects.first()
    assert operation is not None
    table = connection.ops.quote_name(Operation._meta.db_table)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET status = %s WHERE id = %s", ["exploded", operation.pk])
    assert Operation.objects.get(pk=operation.pk).status == operation.status


def test_a_table_cannot_name_a_state_its_choices_do_not_have():
    with pytest.raises(ValueError, match=r"names undeclared states \['gone'\]"):
        StatusTable("tests.Nothing", Operation.Status, {"pending": frozenset({"gone"})})
