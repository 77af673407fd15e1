"""``/auth/tokens``: exchange a password (and a TOTP code) for an API token.

Wrong passwords count against allauth's ``login_failed`` rate limit, the one
owner of lockout for the web login too; past it the API answers 429.
"""

from __future__ import annotations

import datetime as dt

from allauth.account.adapter import get_adapter
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.accounts.actions import token_create
from megalayer.api.schemas import Problem
from megalayer.core.errors import InvalidInput, RateLimited

router = Router(tags=["auth"])

LOCKOUT_RETRY_AFTER = 15 * 60


class TokenRequest(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=4096)
    otp: str | None = Field(default=None, max_length=16, description="TOTP code, when two-factor is on")
    name: str = Field(default="API token", min_length=1, max_length=100)
    scope: str = Field(default="read", pattern="^(read|write)$")


class TokenOut(Schema):
    id: str
    token: str
    scope: str
    created_at: dt.datetime


@router.post(
    "/auth/tokens",
    auth=None,
    response={201: TokenOut, 401: Problem, 422: Problem, 429: Problem},
    summary="Create an API token with e-mail and password",
)
def token_from_password(request: HttpRequest, payload: TokenRequest) -> Status[TokenOut]:
    adapter = get_adapter(request)
    try:
        user = adapter.authenticate(request, email=payload.email.strip().lower(), password=payload.password)
    except ValidationError as error:
        raise RateLimited(
            "Too many failed sign-in attempts for this account. Try again later.", retry_after=LOCKOUT_RETRY_AFTER
        ) from error
    if user is None or not user.is_active:
        raise InvalidCredentials()
    if get_mfa_adapter().is_mfa_enabled(user):
        totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if not payload.otp or totp is None or not TOTP(totp).validate_code(payload.otp):
            raise InvalidCredentials("A valid two-factor code is required.", field="otp")
    issued = token_create(user=user, name=payload.name, scope=payload.scope)
    return Status(
        201,
        TokenOut(
            id=issued.token.public_id,
            token=issued.plaintext,
            scope=issued.token.scope,
            created_at=issued.token.created_at,
        ),
    )


class InvalidCredentials(InvalidInput):
    status = 401
    type_slug = "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self, detail: str = "E-mail or password is wrong.", *, field: str | None = None) -> None:
        super().__init__(detail, field=field)
