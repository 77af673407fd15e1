"""Prefix statuses and their transition table."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable, any_to_any


class PrefixStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESERVED = "reserved", "Reserved"
    RETIRED = "retired", "Retired"


PREFIX_STATUS = StatusTable(
    "network.Prefix",
    PrefixStatus,
    any_to_any(PrefixStatus),  # an operator's setting (admin); allocation only takes from active prefixes
    requirement="TOS-NET-1",
)
