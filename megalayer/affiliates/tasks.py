"""Queue entry points of the affiliate programme."""

from __future__ import annotations

from django.tasks import task

from megalayer.affiliates.actions import commissions_run


@task()
def commissions_run_task() -> dict[str, int]:

    return commissions_run()
