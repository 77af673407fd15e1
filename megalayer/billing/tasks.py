"""Queue entry points of billing: thin, take ids, safe to run twice."""

from __future__ import annotations

from django.tasks import task

from megalayer.billing.actions import payments_apply_pending


@task()
def payments_apply_pending_task() -> int:
    return payments_apply_pending()
