"""Referral and commission statuses and their transition tables (TOS-AFF-1, TOS-AFF-2)."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class ReferralStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CLEARED = "cleared", "Cleared"


REFERRAL_STATUS = StatusTable(
    "affiliates.Referral",
    ReferralStatus,
    # Staff clear a referrer's affiliate data after abuse of the programme (TOS-AFF-2); nothing comes back.
    {ReferralStatus.ACTIVE: frozenset({ReferralStatus.CLEARED}), ReferralStatus.CLEARED: frozenset()},
    requirement="TOS-AFF-2",
)


class CommissionStatus(models.TextChoices):
    HOLDING = "holding", "Holding"
    AVAILABLE = "available", "Credited"
    CLEARED = "cleared", "Cleared"
    VOIDED = "voided", "Voided (refunded)"


COMMISSION_STATUS = StatusTable(
    "affiliates.Commission",
    CommissionStatus,
    {
        # After the holding period: credited to the referrer's balance, or voided when the invoice was refunded;
        # cleared with the referral while still held.
        CommissionStatus.HOLDING: frozenset(
            {CommissionStatus.AVAILABLE, CommissionStatus.VOIDED, CommissionStatus.CLEARED}
        ),
        CommissionStatus.AVAILABLE: frozenset(),
        CommissionStatus.CLEARED: frozenset(),
        CommissionStatus.VOIDED: frozenset(),
    },
    requirement="TOS-AFF-1",
)
