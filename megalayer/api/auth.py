"""Bearer-token authentication for the API (``Authorization: Bearer mgl_…``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from megalayer.accounts.actions import token_authenticate
from megalayer.accounts.models import ApiToken
from megalayer.api.throttling import count_refused_token
from megalayer.core.errors import Forbidden
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


class StaffTokenAuth(TokenAuth):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = super().authenticate(request, token)
        if api_token is not None and not (api_token.is_staff_token and api_token.user.is_staff):
            raise Forbidden("This endpoint needs a staff token.")
        return api_token


def require_write(request: HttpRequest) -> Any:
    """The request's token, refused unless it has the write scope."""
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    if token.scope != ApiToken.Scope.WRITE:
        raise Forbidden("This token is read-only; create a token with the write scope.")
    return token
