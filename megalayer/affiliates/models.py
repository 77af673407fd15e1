"""Referral codes, referrals and commissions (TOS-AFF-1), with the self-referral signals staff judge
(TOS-AFF-2)."""

from __future__ import annotations

from django.db import models

from megalayer.affiliates.choices import COMMISSION_STATUS, REFERRAL_STATUS, CommissionStatus, ReferralStatus
from megalayer.core.ids import PublicIdFactory
from megalayer.core.money import AMOUNT_FIELD


class AffiliateCode(models.Model):
    """A customer's code; the link ``/r/<code>/`` carries it to the sign-up page."""

    customer = models.OneToOneField("accounts.Customer", on_delete=models.PROTECT, related_name="affiliate_code")
    code = models.CharField(max_length=16, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.code


class Referral(models.Model):
    """One customer brought by another. ``signals`` are the self-referral signs found (same e-mail,
    sign-up address, card or billing identity); while any is not judged genuine by staff, no
    commission of this referral is paid out."""

    Status = ReferralStatus

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("ref"), editable=False)
    referrer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="referrals")
    referred = models.OneToOneField("accounts.Customer", on_delete=models.PROTECT, related_name="referred_by")
    code = models.CharField(max_length=16)
    created_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    signals = models.JSONField(default=list, blank=True, help_text="Self-referral signs: [signal, …] (TOS-AFF-2).")
    reviewed_signals = models.JSONField(default=list, blank=True, help_text="Signs staff judged genuine.")
    reviewed_by = models.CharField(max_length=255, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.CharField(max_length=255, blank=True)
    cleared_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            REFERRAL_STATUS.constraint(),
            models.CheckConstraint(condition=~models.Q(referrer=models.F("referred")), name="referral_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.referrer_id}→{self.referred_id}"

    @property
    def unreviewed_signals(self) -> list[str]:
        return [signal for signal in self.signals if signal not in self.reviewed_signals]


class Commission(models.Model):
    """A share of one paid invoice of the referred customer. Held for ``affiliates.holding_days``, then
    credited to the referrer's balance by one ledger transaction (it cannot be paid out, TOS-BAL-1)."""

    Status = CommissionStatus

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("com"), editable=False)
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="commissions")
    invoice = models.OneToOneField("billing.Invoice", on_delete=models.PROTECT, related_name="commission")
    rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent, from the Terms at the payment.")
    base = models.DecimalField(**AMOUNT_FIELD, help_text="What the commission is a share of: servers bought, net.")
    amount = models.DecimalField(**AMOUNT_FIELD)
    currency = models.CharField(max_length=3)
    terms_version = models.PositiveIntegerField(null=True, blank=True)
    accrued_at = models.DateTimeField()
    available_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HOLDING)
    released_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True, help_text="Why it waits, or what became of it.")

    class Meta:
        ordering = ["-accrued_at", "-id"]
        constraints = [
            COMMISSION_STATUS.constraint(),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="commission_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency} ({self.status})"
