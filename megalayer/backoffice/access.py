"""Who may open the back office (issue 14, TOS-SEC-1): a staff member signed in through the same allauth
flow as customers (its lockout and rate limits), with a second factor, in this very session.

Django's ``staff_member_required`` sent staff to ``/admin/login/``, which gives a session for the password
alone, with no second factor and no lockout. Here a visitor who is not signed in goes to the allauth sign-in;
a customer is sent there too (the back office does not exist for them); a staff member without an
authenticator is sent to set one up; a staff session in which no second factor was used (a session from
before MFA was made mandatory) must confirm one first. The Django admin uses the same gate
(``MfaAdminSite``), for superusers only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from django.contrib import admin, messages
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponseRedirect,
)
from django.urls import reverse

from megalayer.accounts.queries import has_second_factor, signed_in_user
from megalayer.accounts.roles import HIDDEN_PERMISSIONS, MISSING_PERMISSION_HEADER, declared, refusal, staff_may


def signed_in_with_second_factor(request: HttpRequest) -> bool:
    """Whether this session's sign-in (or a later confirmation) used a second factor."""
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


def _to(name: str, request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")


def staff_gate(request: HttpRequest) -> HttpResponse | None:
    """None when the request may enter the back office, else where to send it."""
    user = request.user
    if not user.is_authenticated or not user.is_active or not user.is_staff:
        return _to("account_login", request)
    if not has_second_factor(user):
        messages.warning(request, "Staff accounts need two-factor authentication: set it up to continue.")
        return _to("mfa_activate_totp", request)
    if not signed_in_with_second_factor(request):
        return _to("mfa_reauthenticate", request)
    return None


def _denied(request: HttpRequest, permission: str) -> HttpResponse:
    """403 naming the missing permission; legal pages answer 404 (their existence is not shown)."""
    if permission in HIDDEN_PERMISSIONS:
        response: HttpResponse = HttpResponseNotFound("Not found.")
    else:
        response = HttpResponseForbidden(refusal(permission))
    response[MISSING_PERMISSION_HEADER] = permission
    return response


def staff_required[**P, R: HttpResponseBase](
    permission: str, *, post: str | None = None
) -> Callable[[Callable[P, R]], Callable[P, R | HttpResponse]]:
    """The back office's door (see the module docstring), then the permission the page needs: ``permission``
    to open it, ``post`` (when given) to change something with it. The declaration stays on the view
    (``staff_permissions``) for the role matrix test."""
    declared(permission)
    if post is not None:
        declared(post)

    def decorate(view: Callable[P, R]) -> Callable[P, R | HttpResponse]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | HttpResponse:
            request = args[0]
            assert isinstance(request, HttpRequest)
            refused = staff_gate(request)
            if refused is not None:
                return refused
            needed = [permission, post] if post is not None and request.method == "POST" else [permission]
            missing = next((p for p in needed if p is not None and not staff_may(signed_in_user(request), p)), None)
            if missing is not None:
                return _denied(request, missing)
            return view(*args, **kwargs)

        guarded.staff_permissions = (permission, post or permission)  # type: ignore[attr-defined]
        return guarded

    return decorate


class MfaAdminSite(admin.AdminSite):
    """The Django admin behind the same door, and for superusers only: its own password-only sign-in page
    is never shown (it sends to the allauth sign-in)."""

    def has_permission(self, request: HttpRequest) -> bool:
        return staff_gate(request) is None and bool(request.user.is_superuser)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        refused = staff_gate(request)
        if refused is not None:
            return refused
        return HttpResponseRedirect(reverse("backoffice:home"))  # staff, but not a superuser
