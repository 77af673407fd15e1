"""What the Terms app lets the apps above it react to (``core.hooks``)."""

from __future__ import annotations

from typing import Any

from megalayer.core.hooks import Hook

version_published: Hook[[Any], object] = Hook("terms.version_published")
"""A new Terms version (not the first) was published, inside the publishing transaction: the notices app
tells every customer (TOS-ACCEPT-2). Receives the ``TermsVersion``."""
