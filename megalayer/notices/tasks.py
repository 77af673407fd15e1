"""Queue entry points: thin, take ids, safe to run twice."""

from __future__ import annotations

from django.tasks import task

from megalayer.notices.actions import notice_deliver, notices_deliver_due


@task()
def notice_send_task(notice_id: int) -> str:
    return notice_deliver(notice_id=notice_id)


@task()
def notices_deliver_due_task() -> dict[str, int]:
    return notices_deliver_due()
