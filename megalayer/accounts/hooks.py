"""What the accounts app lets the apps above it do or react to (``core.hooks``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from megalayer.core.hooks import Hook


@dataclass(frozen=True, slots=True)
class AccountMail:
    """A mail of the sign-in machinery (verification, password reset), rendered, not yet sent."""

    template_prefix: str
    email: str
    subject: str
    body_text: str
    body_html: str


account_mail: Hook[[AccountMail], object] = Hook("accounts.account_mail")
"""Send an account mail: the notices outbox stores, retries and shows it like every notice (TOS-EMAIL-2).
Exactly one receiver."""

address_confirmed: Hook[[Any], object] = Hook("accounts.address_confirmed")
"""A user's address was (re)verified or changed: a bounce flag on it no longer applies (TOS-EMAIL-1)."""

signed_up: Hook[[HttpRequest, Any], object] = Hook("accounts.signed_up")
"""A customer account was just created from this request (the affiliates app reads its referral cookie)."""
