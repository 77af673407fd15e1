"""Requests to erase a customer's personal data (TOS-PRIVACY-1)."""

from __future__ import annotations

from django.db import models

from megalayer.core.ids import PublicIdFactory
from megalayer.privacy.choices import ERASURE_STATUS, ErasureStatus


class ErasureRequest(models.Model):
    """An account deletion: sign-in stops at once, the personal data goes after the grace period.

    The erasure job runs it when ``erase_after`` has passed. A standing legal hold over the customer,
    a service or an address they held stops it (``held_by``, recorded once per hold, TOS-HOLD-1); it
    runs on the first pass after the hold ends. The row stays after the erasure as the record that it
    happened, naming what was erased and what was kept and why (``summary``).
    """

    Status = ErasureStatus

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("era"), editable=False)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="erasure_requests")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    requested_at = models.DateTimeField()
    requested_by = models.CharField(max_length=255, help_text="The customer, or the staff member acting for them.")
    note = models.CharField(max_length=500, blank=True)
    erase_after = models.DateTimeField(db_index=True)
    status_before = models.CharField(
        max_length=16, help_text="The account's status before; a cancellation restores it."
    )
    held_by = models.CharField(max_length=24, blank=True, help_text="The legal hold that stopped the last run.")
    waiting_for = models.CharField(max_length=255, blank=True, help_text="Why the last run did not erase yet.")
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=255, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="What was erased, and what was kept and why.")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            ERASURE_STATUS.constraint(),
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(status="scheduled"), name="erasure_one_scheduled_per_customer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.customer_id} ({self.status})"
