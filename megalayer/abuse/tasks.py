"""Queue entry points of the abuse desk."""

from __future__ import annotations

from django.tasks import task


@task()
def abuse_deadlines_task() -> dict[str, int]:
    from megalayer.abuse.actions import abuse_deadlines_run

    return abuse_deadlines_run()
