"""Requests to erase a customer's personal data (TOS-PRIVACY-1)."""

from __future__ import annotations

from django.conf import settings
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


class PrivacyPolicyVersion(models.Model):
    """One published text of the Privacy Policy the Terms refer to (TOS-PRIVACY-1), versioned like the Terms:
    numbered, never edited once published, each readable for ever, in force from ``effective_at``."""

    number = models.PositiveIntegerField(unique=True)
    body = models.TextField()
    summary = models.TextField(help_text="What changed, in plain words; sent to customers.")
    update_date = models.DateField(help_text="The 'last updated' date shown under the text.")
    effective_at = models.DateTimeField(db_index=True)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Privacy Policy v{self.number}"


class PrivacyPolicyAcceptance(models.Model):
    """A user's acceptance of one Privacy Policy version: at sign-up, or explicitly on the policy's page or
    through the API."""

    class Method(models.TextChoices):
        SIGNUP = "signup", "At sign-up"
        EXPLICIT = "explicit", "Explicitly"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(PrivacyPolicyVersion, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=16, choices=Method.choices)

    class Meta:
        ordering = ["-accepted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="privacy_acceptance_once")]

    def __str__(self) -> str:
        return f"{self.user_id} accepted {self.version}"
