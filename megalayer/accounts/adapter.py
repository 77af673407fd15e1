"""Allauth adapter: mail through the outbox, password age stamping, and the sign-in lockout per address."""

from __future__ import annotations

import hashlib
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal import ratelimit
from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from megalayer.accounts import hooks
from megalayer.accounts.actions import user_password_changed
from megalayer.accounts.models import User
from megalayer.terms.queries import current_version

# A browser that has signed in to an account before carries this signed cookie; its failures do not count
# against the address (issue 14, item 16: an office behind one NAT is not locked out by one person's typos
# or an attacker beside them). OWASP's "device cookie" answer to lockout by address.
KNOWN_DEVICE_COOKIE = "mgl_known_device"
KNOWN_DEVICE_SALT = "megalayer.accounts.known-device"
KNOWN_DEVICE_DAYS = 365


def _login_digest(login: str) -> str:
    return hashlib.sha256(login.strip().lower().encode()).hexdigest()


def known_device(request: HttpRequest, login: str) -> bool:
    """Has this browser signed in to the account ``login`` (an e-mail address) before?"""
    cookie = request.COOKIES.get(KNOWN_DEVICE_COOKIE, "")
    try:
        value = signing.loads(cookie, salt=KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_DAYS * 86400)
    except signing.BadSignature:
        return False
    return bool(login) and value == _login_digest(login)


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Account mails (verification, password reset) go through the notices outbox.

        They are then stored, retried and visible in the client area like every
        other notice (TOS-EMAIL-2), instead of being sent inline by the request.
        """
        message = self.render_mail(template_prefix, email, context)
        html = ""
        for alternative in getattr(message, "alternatives", []):
            if alternative[1] == "text/html":
                html = str(alternative[0])
        hooks.account_mail.one(
            hooks.AccountMail(
                template_prefix=template_prefix,
                email=email,
                subject=str(message.subject),
                body_text=str(message.body),
                body_html=html,
            )
        )

    def set_password(self, user: User, password: str) -> None:
        super().set_password(user, password)
        user_password_changed(user=user)

    def is_open_for_signup(self, request: HttpRequest) -> bool:

        return current_version() is not None

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """allauth's per-account limit (``login_failed``), then the per-address one unless the browser is known.

        The address limit is its own action, so the per-account count (which the second-factor step and the
        API share) is unchanged; both are rolled back together after a successful sign-in.
        """
        super().pre_authenticate(request, **credentials)
        self._address_usage = None
        if known_device(request, credentials.get("email", "")):
            return
        rates = {"login_failed_address": settings.MEGALAYER_LOGIN_FAILURES_PER_ADDRESS}
        usage = ratelimit.consume(request, app="allauth.account", action="login_failed_address", config=rates)
        if not usage:
            self._rollback_login_failed_rl_usage()
            raise self.validation_error("too_many_login_attempts")
        self._address_usage = usage

    def _rollback_login_failed_rl_usage(self) -> None:
        super()._rollback_login_failed_rl_usage()
        usage = getattr(self, "_address_usage", None)
        if usage:
            usage.rollback()
            self._address_usage = None

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """A customer whose mail bounced lands on the e-mail page after signing in (TOS-EMAIL-1): fixing the
        address re-verifies it and clears the flag; the banner keeps asking on every page until then."""
        user = request.user
        if isinstance(user, User) and not user.is_staff and user.email_bounced_at is not None:
            return reverse("account_email")
        url: str = super().get_login_redirect_url(request)
        return url

    def post_login(self, request: HttpRequest, user: User, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().post_login(request, user, **kwargs)
        response.set_cookie(
            KNOWN_DEVICE_COOKIE,
            signing.dumps(_login_digest(user.email), salt=KNOWN_DEVICE_SALT),
            max_age=KNOWN_DEVICE_DAYS * 86400,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return response
