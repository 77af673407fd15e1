"""The customer's service and its life (TOS-TERM-1, TOS-EXPIRE-1, TOS-RENEW-1)."""

from __future__ import annotations

import datetime as dt

from django.db import models

from megalayer.core.fields import EncryptedJSONField
from megalayer.core.ids import PublicIdFactory
from megalayer.core.money import AMOUNT_FIELD
from megalayer.services.choices import (
    CANCEL_STATUS,
    SERVICE_STATUS,
    CancelReason,
    CancelStatus,
    CancelWhen,
    Effect,
    Reason,
    Status,
)

AMOUNT = AMOUNT_FIELD


class Service(models.Model):
    """What the customer bought and pays for. ``paid_until`` drives everything: the renewal
    invoice, reminders, expiry, suspension and the deletion date. The recurring price is
    copied from the order and never follows later price changes (TOS-PRICE-1)."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("srv"), editable=False)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="services")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="services")
    os_image = models.ForeignKey("catalog.OsImage", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ssh_keys = models.JSONField(default=list, blank=True, help_text="Public keys the server is built with.")
    cloud_init = EncryptedJSONField(
        default=dict, blank=True, help_text='{"user_data": …}: cloud-init user data the server is built with.'
    )
    hostname = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True, default="")
    cycle = models.CharField(max_length=16)
    recurring_amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    add_ons = models.JSONField(
        default=list, blank=True, help_text="Copied from the order; part of the recurring price."
    )
    anchor_day = models.PositiveSmallIntegerField(help_text="Day of month the periods start on (provider zone).")
    paid_until = models.DateTimeField(db_index=True)
    auto_renew = models.BooleanField(default=True)
    renewal_denied = models.BooleanField(default=False, help_text="Staff: not renewed, ends at expiry (TOS-REFUSE-1).")
    created_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    data_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "paid_until"], name="service_due_idx")]
        constraints = [
            SERVICE_STATUS.constraint(),
            models.CheckConstraint(
                condition=models.Q(anchor_day__gte=1, anchor_day__lte=31), name="service_anchor_day_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.product_id} ({self.status})"

    @property
    def cancel_at(self) -> dt.datetime | None:
        """When the customer's pending end-of-term cancellation ends the service (None: none pending). Derived
        from the ``Cancellation`` rows, never stored twice; lists annotate it (``pending_cancel_at``, see
        ``services.queries.services_of``) instead of asking once per service."""
        if "pending_cancel_at" in self.__dict__:
            annotated: dt.datetime | None = self.__dict__["pending_cancel_at"]
            return annotated
        return self.cancellations.filter(status=CancelStatus.PENDING).values_list("effective_at", flat=True).first()


class ServiceEvent(models.Model):
    """The history of a service: every status change with its reason and the requirement behind it."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=16, blank=True)
    requirement = models.CharField(max_length=32)
    note = models.CharField(max_length=255, blank=True)
    actor = models.CharField(max_length=255)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.from_status} → {self.to_status}"


class LifecycleEffect(models.Model):
    """One automated effect of one billing period. The unique key makes a rerun, a second worker
    or a run restarted after a kill do nothing twice: the effect row is written in the same
    transaction as the effect itself."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="effects")
    period_end = models.DateTimeField(help_text="The paid_until the effect belongs to.")
    kind = models.CharField(max_length=24, choices=Effect.choices)
    detail = models.CharField(max_length=32, blank=True, help_text="E.g. the reminder's day count.")
    at = models.DateTimeField()
    reference = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "period_end", "kind", "detail"], name="lifecycle_effect_once"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.kind}{self.detail} @ {self.period_end:%Y-%m-%d}"


class Cancellation(models.Model):
    """A customer's request to end a service (issue 20; the Terms' "Service Term": a service runs until it
    is not renewed). At the end of the term: the service is not renewed and the automation run terminates it
    at ``effective_at``; it can be withdrawn until then. Now: the service is terminated at once and nothing is
    refunded (TOS-REFUND-1: refunds only for the provider's faults). Staff read the reasons."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("can"), editable=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="cancellations")
    when = models.CharField(max_length=16, choices=CancelWhen.choices)
    reason = models.CharField(max_length=16, choices=CancelReason.choices)
    comment = models.TextField(blank=True, max_length=2000)
    status = models.CharField(max_length=16, choices=CancelStatus.choices, default=CancelStatus.PENDING)
    requested_at = models.DateTimeField()
    requested_by = models.CharField(max_length=255, help_text="Who asked (the person's e-mail at the time).")
    effective_at = models.DateTimeField(help_text="When the service ends (or ended).")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            CANCEL_STATUS.constraint(),
            models.UniqueConstraint(
                fields=["service"],
                condition=models.Q(status="pending"),
                name="cancellation_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.service_id} {self.when} ({self.status})"
