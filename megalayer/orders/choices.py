"""Order statuses and their transition table."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class OrderStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    IN_REVIEW = "in_review", "Waiting for review"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


ORDER_STATUS = StatusTable(
    "orders.Order",
    OrderStatus,
    {
        # Paid: accepted at once, or held for review when the fraud score is high (TOS-FRAUD-1); refused by staff
        # (TOS-REFUSE-1); unpaid past the policy's days: cancelled.
        OrderStatus.AWAITING_PAYMENT: frozenset(
            {OrderStatus.IN_REVIEW, OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.CANCELLED}
        ),
        OrderStatus.IN_REVIEW: frozenset({OrderStatus.ACCEPTED, OrderStatus.REJECTED}),
        OrderStatus.ACCEPTED: frozenset(),
        OrderStatus.REJECTED: frozenset(),
        OrderStatus.CANCELLED: frozenset(),
    },
    requirement="TOS-FRAUD-1",
)


class LineKind(models.TextChoices):
    """The invoice line kinds the orders app owns: the product ordered, its add-ons, a coupon's discount."""

    ORDER = "order", "Order"
    ADD_ON = "add_on", "Add-on"
    DISCOUNT = "discount", "Discount"
