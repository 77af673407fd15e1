"""Erasure request statuses and their transition table (TOS-PRIVACY-1)."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class ErasureStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ERASED = "erased", "Erased"
    CANCELLED = "cancelled", "Cancelled"


ERASURE_STATUS = StatusTable(
    "privacy.ErasureRequest",
    ErasureStatus,
    {
        ErasureStatus.SCHEDULED: frozenset({ErasureStatus.ERASED, ErasureStatus.CANCELLED}),
        ErasureStatus.ERASED: frozenset(),
        ErasureStatus.CANCELLED: frozenset(),
    },
    requirement="TOS-PRIVACY-1",
    constraint_name="erasure_status_valid",
)
