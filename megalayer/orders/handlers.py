"""What happens when an order line is paid (registered with billing, explicitly)."""

from __future__ import annotations

from typing import Any

from megalayer.billing.registry import register_line_kind
from megalayer.orders.actions import order_paid
from megalayer.orders.choices import LineKind


def order_line_paid(line: Any) -> None:

    order_paid(order_id=line.reference)


def register() -> None:

    register_line_kind(LineKind.ORDER, on_paid=order_line_paid)
