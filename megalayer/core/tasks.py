"""Enqueue a task once the current transaction commits.

A task enqueued inside a transaction that later rolls back must never run (the
e-mail for an order that was not placed). Tasks take ids, not objects, so they
read the committed state when they run.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.tasks import Task


def enqueue_on_commit(task: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    # robust: the row that asked for the task is the truth and a periodic sweep
    # re-enqueues what was lost, so a broken queue must not fail the request.
    transaction.on_commit(lambda: task.enqueue(*args, **kwargs), robust=True)
