"""Queue entry points of the privacy desk."""

from __future__ import annotations

from django.tasks import task


@task()
def erasures_run_due_task() -> dict[str, int]:
    from megalayer.privacy.actions import erasures_run_due

    return erasures_run_due()
