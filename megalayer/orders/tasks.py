"""Queue entry points of orders."""

from __future__ import annotations

from django.tasks import task


@task()
def orders_cancel_unpaid_task() -> int:
    from megalayer.orders.actions import orders_cancel_unpaid

    return orders_cancel_unpaid()
