"""The outermost transaction of an action that moves money or changes a lifecycle.

Such an action must commit on its own: if a caller wrapped it in a transaction of its own, the
caller could roll back a charge after the action had sent its notice, or hold the action's row
locks for as long as the caller pleases. ``outermost()`` is ``transaction.atomic(durable=True)``,
so nesting one of these actions inside another transaction is an error at once (Django raises
``RuntimeError``), not a subtle bug in production.

Two callers wrap many such actions on purpose and say so with ``rehearsal()``: the demo loader
(all of the demo data or none) and the simulation (everything rolled back at the end). Inside a
rehearsal the actions' transactions become ordinary savepoints. Django's ``TestCase`` turns the
durability check off for its own wrapping transaction; transactional tests keep it
(``core/tests/test_transactions.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

_rehearsal: ContextVar[bool] = ContextVar("megalayer_rehearsal", default=False)


def outermost(using: str | None = None) -> transaction.Atomic:
    """The action's own transaction; refused (RuntimeError) inside another one, outside a rehearsal."""
    return transaction.atomic(using=using, durable=not _rehearsal.get())


@contextmanager
def rehearsal(using: str | None = None) -> Iterator[None]:
    """One transaction around many outermost actions, on purpose (demo data, simulation)."""
    token = _rehearsal.set(True)
    try:
        with transaction.atomic(using=using):
            yield
    finally:
        _rehearsal.reset(token)
