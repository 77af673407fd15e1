"""Bearer-token authentication for the API (``Authorization: Bearer mgl_…``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from megalayer.accounts.actions import token_authenticate
from megalayer.accounts.models import ApiToken
from megalayer.accounts.queries import has_second_factor
from megalayer.accounts.roles import HIDDEN_PERMISSIONS, declared, refusal, staff_may
from megalayer.api.throttling import count_refused_token
from megalayer.core.errors import Forbidden, NotFound
from megalayer.terms.actions import terms_record_continued_use
from megalayer.terms.middleware import request_info


class TokenAuth(HttpBearer):
    """Any live token; customers' calls count as continued use of the Terms (TOS-ACCEPT-2)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = token_authenticate(token)
        if api_token is None:
            count_refused_token(request)
            return None
        request.user = api_token.user
        terms_record_continued_use(user=api_token.user, request_info=request_info(request))
        return api_token


class MissingPermission(Forbidden):
    type_slug = "missing-permission"
    title = "Missing permission"

    def __init__(self, permission: str) -> None:
        super().__init__(refusal(permission))
        self.missing_permission = permission


class HiddenLegalMatter(NotFound):
    """Legal matters are invisible, not forbidden, to staff without the legal role (``abuse.legal``)."""

    def __init__(self, permission: str) -> None:
        super().__init__("Not found.")
        self.missing_permission = permission


class StaffTokenAuth(TokenAuth):
    """A staff token of a staff member whose roles include ``permission`` (issue 14, item 6).

    Checked here, before the body is read, so a refusal is the same whatever the request carries. Every
    staff operation names its permission (``auth=staff_auth("…")``); the role matrix test fails on one that
    does not.
    """

    def __init__(self, permission: str | None = None) -> None:
        super().__init__()
        self.permission = permission if permission is None else declared(permission)

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = super().authenticate(request, token)
        if api_token is None:
            return None
        if not (api_token.is_staff_token and api_token.user.is_staff):
            raise Forbidden("This endpoint needs a staff token.")
        if not has_second_factor(api_token.user):  # removed since the token was made
            raise Forbidden("Staff accounts need two-factor authentication: set it up again to use staff tokens.")
        if self.permission is not None and not staff_may(api_token.user, self.permission):
            if self.permission in HIDDEN_PERMISSIONS:
                raise HiddenLegalMatter(self.permission)
            raise MissingPermission(self.permission)
        return api_token


def staff_auth(permission: str) -> StaffTokenAuth:
    return StaffTokenAuth(permission)


def require_write(request: HttpRequest) -> Any:
    """The request's token, refused unless it has the write scope."""
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    if token.scope != ApiToken.Scope.WRITE:
        raise Forbidden("This token is read-only; create a token with the write scope.")
    return token
