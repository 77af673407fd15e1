"""Enqueue a task once the current transaction commits.

A task enqueued inside a transaction that later rolls back must never run (the
e-mail for an order that was not placed). Tasks take ids, not objects, so they
read the committed state when they run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.tasks import Task


def enqueue_on_commit(task: Task[Any, Any], *args: Any, run_after: dt.datetime | None = None, **kwargs: Any) -> None:
    """Enqueue after commit. A ``run_after`` the backend cannot defer (the immediate backend
    of tests) is dropped: the task then runs at once, which tests drive with the clock."""
    if run_after is not None and task.get_backend().supports_defer:
        task = task.using(run_after=run_after)
    # robust: the row that asked for the task is the truth and a periodic sweep
    # re-enqueues what was lost, so a broken queue must not fail the request.
    transaction.on_commit(lambda: task.enqueue(*args, **kwargs), robust=True)
