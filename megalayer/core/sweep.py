"""The shape of every periodic sweep that acts row by row (erasures, commissions)."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def sweep(pks: Iterable[int], run_one: Callable[[int], str], outcomes: tuple[str, ...]) -> dict[str, int]:
    """Run ``run_one`` for each row (it locks and re-reads the row in its own transaction, so a row
    another worker took meanwhile returns ``""`` and is not counted); count the outcomes."""
    counts = dict.fromkeys(outcomes, 0)
    for pk in list(pks):
        outcome = run_one(pk)
        if outcome:
            counts[outcome] += 1
    return counts
