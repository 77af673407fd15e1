"""Prompt for a new password when the current one is older than the policy allows (TOS-SEC-1)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from megalayer.accounts.queries import attention_of


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
            for attention in attention_of(user):
                if attention.code == "password-old":
                    request.session["password_age_prompted"] = True
                    messages.warning(request, attention.message, extra_tags="password-age")
        return self.get_response(request)
