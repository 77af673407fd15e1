"""Prefix statuses and their transition table."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class PrefixStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESERVED = "reserved", "Reserved"
    RETIRED = "retired", "Retired"


_PREFIX_STATES = frozenset(PrefixStatus.values)
PREFIX_STATUS = StatusTable(
    "network.Prefix",
    PrefixStatus,
    # An operator's setting (admin): any state to any other; allocation only ever takes from active prefixes.
    {state: _PREFIX_STATES - {state} for state in PrefixStatus.values},
    requirement="TOS-NET-1",
)
