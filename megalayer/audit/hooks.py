"""What the audit log asks of the apps above it (``core.hooks``)."""

from __future__ import annotations

import datetime as dt

from megalayer.core.hooks import Hook

terms_version_at: Hook[[dt.datetime], int | None] = Hook("audit.terms_version_at")
"""The number of the Terms version in force at a moment, stamped on every event that does not name one
(TOS-AUDIT-1). Filled by ``terms``; without it (an app set without the Terms) events carry none."""
