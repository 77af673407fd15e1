"""Queue entry points of the abuse desk."""

from __future__ import annotations

from django.tasks import task

from megalayer.abuse.actions import abuse_deadlines_run


@task()
def abuse_deadlines_task() -> dict[str, int]:

    return abuse_deadlines_run()
