"""What the privacy app asks of the apps above it (``core.hooks``): whether a legal hold keeps the customer's
data, and the abuse desk's share of an export and an erasure."""

from __future__ import annotations

import datetime as dt
from typing import Any

from megalayer.core.hooks import Hook

erasure_guard: Hook[[Any, dt.datetime], object] = Hook("privacy.erasure_guard")
"""Before a customer's data is erased: a receiver raises ``core.errors.DeletionHeld`` when a standing legal
hold keeps anything of theirs (TOS-HOLD-1). Filled by ``abuse``."""

erase: Hook[[Any, str], dict[str, int]] = Hook("privacy.erase")
"""Erase, inside the erasure's transaction, what an app above keeps of the customer (given the customer and
their e-mail address before it was replaced); answers ``{what: rows}`` for the erasure's summary."""

kept: Hook[[Any], dict[str, list[Any]]] = Hook("privacy.kept")
"""What an app above keeps of an erased customer and why: ``{what: [rows, reason]}`` for the summary."""

export: Hook[[Any], dict[str, bytes]] = Hook("privacy.export")
"""Files an app above adds to the customer's personal-data export (``{name: content}``)."""
