"""Queue entry points: thin, take ids, safe to run twice."""

from __future__ import annotations

from django.tasks import task

from megalayer.webhooks.actions import delivery_send, webhooks_deliver_due


@task()
def webhook_deliver_task(delivery_id: int) -> str:
    return delivery_send(delivery_id=delivery_id)


@task()
def webhooks_deliver_due_task() -> dict[str, int]:
    return webhooks_deliver_due()
