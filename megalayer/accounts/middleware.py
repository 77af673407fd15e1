"""Prompt for a new password when the current one is older than the policy allows (TOS-SEC-1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from megalayer.core import clock
from megalayer.terms.queries import policy_at


class PasswordAgeMiddleware:
    """Adds a one-per-session message; it nags, it does not lock the customer out."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith("/api/")
            and not request.session.get("password_age_prompted")
        ):
            changed = user.password_changed_at or user.date_joined
            max_age = policy_at(clock.now()).accounts.password_max_age_days
            if max_age and clock.now() - changed > dt.timedelta(days=max_age):
                request.session["password_age_prompted"] = True
                messages.warning(
                    request,
                    f"Your password is more than {max_age} days old. Please change it (TOS-SEC-1).",
                    extra_tags="password-age",
                )
        return self.get_response(request)
