"""Queue entry points of the affiliate programme."""

from __future__ import annotations

from django.tasks import task


@task()
def commissions_run_task() -> dict[str, int]:
    from megalayer.affiliates.actions import commissions_run

    return commissions_run()
