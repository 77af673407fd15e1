"""Queue entry points of the support desk."""

from __future__ import annotations

from django.tasks import task

from megalayer.support.actions import tickets_auto_close


@task()
def tickets_auto_close_task() -> int:

    return tickets_auto_close()
