"""Status tables: which moves are legal, and the compare-and-set that makes them (ADR 0004).

Every status column of the platform has one ``StatusTable``, declared in its app's ``choices.py`` (or beside the
model's choices): the model it belongs to, the choices, and ``{from: {to, ...}}``. Writes go through the table:

- ``move(instance, target, **also)``: one row the caller holds; the UPDATE matches only while the row still has
  the status the caller saw, so two workers racing on a row cannot both win (the loser gets
  ``IllegalTransition`` naming both states).
- ``claim(queryset, sources=..., target=..., **also)``: a set-based compare-and-set (claim a due row, cancel
  what is still pending): every source → target move is checked against the table before any SQL runs; returns
  how many rows moved, so "somebody else was first" is a 0, not an exception.

``constraint()`` gives the database CHECK that the column holds only a declared value; a test
(``core/tests/test_status_tables.py``) proves every status column of every model has its table and its CHECK.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from megalayer.core.errors import IllegalTransition

Table = Mapping[str, frozenset[str]]


def any_to_any(choices: type[models.TextChoices]) -> Table:
    """The table of a status an operator sets freely (a host's, a prefix's): every state to every other."""
    states = frozenset(choices.values)
    return {state: states - {state} for state in choices.values}


TABLES: dict[str, StatusTable] = {}
"""Every declared table by ``"app_label.Model.field"``: what the completeness test walks."""


@dataclasses.dataclass(frozen=True, eq=False)
class StatusTable:
    model: str  # "app_label.Model"
    choices: type[models.TextChoices]
    moves: Table
    field: str = "status"
    requirement: str = "TOS-TERM-1"
    constraint_name: str = ""
    states: frozenset[str] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        declared = frozenset(self.choices.values)
        named = set(self.moves) | {target for targets in self.moves.values() for target in targets}
        unknown = named - declared
        if unknown:
            raise ValueError(f"{self.model}.{self.field}: the table names undeclared states {sorted(unknown)}")
        object.__setattr__(self, "states", declared)
        TABLES[f"{self.model}.{self.field}"] = self

    @property
    def label(self) -> str:
        return self.model.split(".")[-1]

    def allows(self, current: str, target: str) -> bool:
        return target in self.moves.get(current, frozenset())

    def sources_of(self, target: str) -> list[str]:
        """Every state the table lets move to ``target``."""
        return [state for state in self.choices.values if self.allows(state, target)]

    def reach(self, queryset: models.QuerySet[Any], target: str, **also: Any) -> int:
        """Move the rows of ``queryset`` to ``target`` from any state the table allows it from; rows already
        there (or in a state that cannot reach it) stay. How many moved."""
        return self.claim(queryset, sources=self.sources_of(target), target=target, **also)

    def check(self, current: str, target: str) -> None:
        """Raise ``IllegalTransition`` naming both states unless the table allows ``current`` → ``target``."""
        if not self.allows(current, target):
            raise IllegalTransition(
                f"A {self.label} cannot move from {str(current)!r} to {str(target)!r}.", requirement=self.requirement
            )

    def move(self, instance: models.Model, target: str, **also: Any) -> None:
        """Move ``instance`` to ``target`` if the table allows it and nobody moved it first."""
        current = getattr(instance, self.field)
        self.check(current, target)
        manager = type(instance)._default_manager
        updated = manager.filter(pk=instance.pk, **{self.field: current}).update(**{self.field: target}, **also)
        if updated != 1:
            raise IllegalTransition(
                f"{self.label} {instance.pk} is no longer {str(current)!r}; it cannot move to {str(target)!r}.",
                requirement=self.requirement,
            )
        setattr(instance, self.field, target)
        for name, value in also.items():
            if not hasattr(value, "resolve_expression"):
                setattr(instance, name, value)

    def claim(self, queryset: models.QuerySet[Any], *, sources: Iterable[str], target: str, **also: Any) -> int:
        """Move every row of ``queryset`` whose status is one of ``sources`` to ``target``; how many moved."""
        sources = list(sources)
        for source in sources:
            self.check(source, target)
        return queryset.filter(**{f"{self.field}__in": sources}).update(**{self.field: target}, **also)

    def constraint(self) -> models.CheckConstraint:
        """The database CHECK that the column holds only a declared value."""
        model = self.model.lower().split(".")[1]
        return models.CheckConstraint(
            condition=models.Q(**{f"{self.field}__in": list(self.choices.values)}),
            name=self.constraint_name or f"{model}_{self.field}_valid",
        )
