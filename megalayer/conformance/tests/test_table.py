"""The conformance table is complete, true of the running platform, and what ``docs/conformance.md`` shows."""

import re
from pathlib import Path

import pytest
from django.core.management import get_commands
from django.urls import Resolver404, resolve

from megalayer.api.v1 import api
from megalayer.conformance import ROWS, conformance_test_name, conformance_tests_present, render
from megalayer.notices.choices import Kind
from megalayer.terms.policy import Policy
from megalayer.terms.requirements import packaged_requirements

DOC = Path(__file__).resolve().parents[3] / "docs" / "conformance.md"


def test_every_requirement_has_a_row_and_every_row_a_requirement():
    ids = [r.id for r in packaged_requirements()]
    assert sorted(set(ids) - set(ROWS)) == []
    assert sorted(set(ROWS) - set(ids)) == []


def _operations() -> set[str]:
    schema = api.get_openapi_schema()
    return {
        f"{method.upper()} {path.removeprefix('/api/v1')}"
        for path, operations in schema["paths"].items()
        for method in operations
    }


@pytest.mark.parametrize("requirement", sorted(ROWS))
def test_each_cell_names_something_that_exists(requirement):
    row = ROWS[requirement]
    operations = _operations()
    assert [op for op in row.api if op not in operations] == []
    assert [kind for kind in row.notices if kind not in Kind.values] == []
    for parameter in row.policy:
        section, name = parameter.split(".")
        assert name in type(getattr(Policy(), section)).model_fields, parameter
    for path in row.customer + row.staff:
        if path.startswith("cli: megalayer "):
            assert path.split()[2] in get_commands(), path
            continue
        concrete = path.replace("{number}", "1")
        concrete = re.sub(r"\{[a-z_]+\}", "x1", concrete)
        try:
            resolve(concrete)
        except Resolver404:
            pytest.fail(f"{requirement}: {path} is not a page")


def test_the_document_is_the_table_rendered():
    assert DOC.read_text(encoding="utf-8") == render(), "run: megalayer conformance --write"


def test_every_requirement_has_its_end_to_end_test():
    missing = [r.id for r in packaged_requirements() if conformance_test_name(r.id) not in conformance_tests_present()]
    assert missing == []
