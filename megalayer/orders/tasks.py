"""Queue entry points of orders."""

from __future__ import annotations

from django.tasks import task

from megalayer.orders.actions import orders_cancel_unpaid


@task()
def orders_cancel_unpaid_task() -> int:

    return orders_cancel_unpaid()
