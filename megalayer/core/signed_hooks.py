"""Signatures of inbound hooks from our own tools (the DDoS detector, the mail server).

The scheme is Stripe's, so one recipe signs every hook: header
``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>``. A
timestamp outside the tolerance is refused (a captured request cannot be replayed
later), and each payload names an event id that is processed once.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from megalayer.core.errors import InvalidInput

TOLERANCE_SECONDS = 300


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def verify(payload: bytes, header: str | None, secret: str, *, field: str, now: float | None = None) -> None:
    """Raise ``InvalidInput`` (naming the header) unless the signature is valid and fresh."""
    if not secret:
        raise InvalidInput("This hook is not configured.", field=field)
    if not header:
        raise InvalidInput(f"The {field} header is missing.", field=field)
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        moment = int(parts.get("t", ""))
    except ValueError as error:
        raise InvalidInput("The signature has no valid timestamp.", field=field) from error
    current = time.time() if now is None else now
    if abs(current - moment) > TOLERANCE_SECONDS:
        raise InvalidInput("The signature is too old or from the future.", field=field)
    expected = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise InvalidInput("The signature does not verify.", field=field)
