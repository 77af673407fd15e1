"""Queue entry points of the privacy desk."""

from __future__ import annotations

from django.tasks import task

from megalayer.privacy.actions import erasures_run_due


@task()
def erasures_run_due_task() -> dict[str, int]:

    return erasures_run_due()
