"""Status tables: which moves are legal, and a compare-and-set that makes them.

A domain app declares its table in ``choices.py`` as ``{from: {to, ...}}`` and
moves a row with ``transition()``: the UPDATE only matches while the row still
has the expected status, so two workers racing on the same row cannot both win,
and an illegal move raises instead of writing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from megalayer.core.errors import IllegalTransition

Table = Mapping[str, frozenset[str]]


def check_transition(table: Table, current: str, target: str) -> None:
    if target not in table.get(current, frozenset()):
        raise IllegalTransition(f"cannot move from {current!r} to {target!r}")


def transition(
    instance: models.Model,
    *,
    table: Table,
    target: str,
    field: str = "status",
    **also: Any,
) -> None:
    """Move ``instance`` to ``target`` if the table allows it and nobody moved it first."""
    current = getattr(instance, field)
    check_transition(table, current, target)
    model = type(instance)
    updated = model._default_manager.filter(pk=instance.pk, **{field: current}).update(**{field: target}, **also)
    if updated != 1:
        raise IllegalTransition(f"{model.__name__} {instance.pk} is no longer {current!r}")
    setattr(instance, field, target)
    for name, value in also.items():
        setattr(instance, name, value)


def status_constraint(name: str, field: str, choices: type[models.TextChoices]) -> models.CheckConstraint:
    """A database CHECK that the status column only holds a declared value."""
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": choices.values}), name=name)
