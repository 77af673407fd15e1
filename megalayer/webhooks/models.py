"""Outgoing webhooks (issue 20): the operator's endpoints and the deliveries of each event to each of them."""

from __future__ import annotations

from django.db import models

from megalayer.core.fields import EncryptedJSONField
from megalayer.core.ids import PublicIdFactory
from megalayer.webhooks.choices import DELIVERY_STATUS, DeliveryStatus


class Endpoint(models.Model):
    """A URL the operator subscribed to some event types. Its signing secret is shown once at creation and
    kept encrypted (``core.crypto``): the platform needs it in clear to sign, so it is not a hash."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("whe"), editable=False)
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Event types (core/events.py) sent to this URL.")
    secret = EncryptedJSONField(default=dict, help_text='{"key": "whsec_…"}: the HMAC signing secret.')
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=255)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id} {self.url}"


class Delivery(models.Model):
    """One event for one endpoint. Created in the transaction that caused the event; unique on (endpoint,
    event) so nothing makes a second one. The body is frozen at creation; every attempt sends those bytes
    with the event id as the idempotency key, so a receiver that keeps the ids it has handled handles each
    event once, whatever a retry, a replay or a killed sender does."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("whd"), editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=32)
    event_type = models.CharField(max_length=64)
    body = models.TextField(help_text="The JSON document, exactly as sent.")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx")]
        constraints = [
            DELIVERY_STATUS.constraint(),
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.event_type} → {self.endpoint_id} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery and what came back, for the back office."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"
