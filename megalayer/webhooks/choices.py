"""Delivery statuses of outgoing webhooks and their transition table."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


DELIVERY_STATUS = StatusTable(
    "webhooks.Delivery",
    DeliveryStatus,
    {
        DeliveryStatus.PENDING: frozenset({DeliveryStatus.SENDING}),
        # A sender killed mid-request leaves "sending": the sweep gives it back (pending) after the lease.
        DeliveryStatus.SENDING: frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.PENDING, DeliveryStatus.FAILED}),
        # Staff replay a delivery: it is sent again with the same event id (the receiver's idempotency key).
        DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.PENDING}),
        DeliveryStatus.FAILED: frozenset({DeliveryStatus.PENDING}),
    },
    requirement="TOS-AUDIT-1",
)
