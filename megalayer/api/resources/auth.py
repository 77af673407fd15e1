"""``/auth/tokens``: exchange a password (and a TOTP or recovery code) for an API token.

Lockout has one owner, allauth's ``login_failed`` rate limit, for the web sign-in and the API alike:
wrong passwords count against it per account and per address, and wrong second-factor codes count
against the same limit on the same key as the web's second step (allauth's own form checks them, so
a code guessed at in the API is a code guessed at on the web). Past it the API answers 429.
A token is only issued to an account whose e-mail is verified (the Terms make verification mandatory).
"""

from __future__ import annotations

import datetime as dt

from allauth.account.adapter import get_adapter
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.base.forms import AuthenticateForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.accounts.actions import TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS, token_create
from megalayer.accounts.models import User
from megalayer.accounts.queries import address_verified
from megalayer.api.schemas import Problem
from megalayer.core.errors import Forbidden, InvalidInput, RateLimited

router = Router(tags=["auth"])

LOCKOUT_RETRY_AFTER = 15 * 60


class TokenRequest(Schema):
    email: str = Field(max_length=254)
    password: str = Field(max_length=4096)
    otp: str | None = Field(
        default=None, max_length=16, description="TOTP code (or a recovery code), when two-factor is on"
    )
    name: str = Field(default="API token", min_length=1, max_length=100)
    scope: str = Field(default="read", pattern="^(read|write)$")
    expires_in_days: int | None = Field(
        default=TOKEN_DEFAULT_DAYS, ge=1, le=TOKEN_MAX_DAYS, description="Days the token lives; null: until revoked"
    )


class TokenOut(Schema):
    id: str
    token: str
    scope: str
    created_at: dt.datetime
    expires_at: dt.datetime | None


@router.post(
    "/auth/tokens",
    auth=None,
    response={201: TokenOut, 401: Problem, 403: Problem, 422: Problem, 429: Problem},
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
        _second_factor(user, payload.otp)
    if not address_verified(user):
        raise EmailNotVerified()
    issued = token_create(user=user, name=payload.name, scope=payload.scope, expires_in_days=payload.expires_in_days)
    return Status(
        201,
        TokenOut(
            id=issued.token.public_id,
            token=issued.plaintext,
            scope=issued.token.scope,
            created_at=issued.token.created_at,
            expires_at=issued.token.expires_at,
        ),
    )


class InvalidCredentials(InvalidInput):
    status = 401
    type_slug = "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self, detail: str = "E-mail or password is wrong.", *, field: str | None = None) -> None:
        super().__init__(detail, field=field)


def _second_factor(user: User, code: str | None) -> None:
    """Check the code with allauth's own second-step form: TOTP or an unused recovery code, counted against
    the ``login_failed`` limit on the key the web's second step uses, cleared on success."""
    if not code:
        raise InvalidCredentials("A valid two-factor code is required.", field="otp")
    form = AuthenticateForm(data={"code": code}, user=user)
    with transaction.atomic():  # a recovery code is spent under a row lock
        valid = form.is_valid()
    if valid:
        form.authenticator.record_usage()  # no session to record it in: the token is the credential
        return
    codes = {error.code for error in form.errors.as_data().get("code", [])}
    if "too_many_login_attempts" in codes:
        raise RateLimited(
            "Too many failed sign-in attempts for this account. Try again later.", retry_after=LOCKOUT_RETRY_AFTER
        )
    raise InvalidCredentials("A valid two-factor code is required.", field="otp")


class EmailNotVerified(Forbidden):
    type_slug = "email-not-verified"
    title = "E-mail address not verified"

    def __init__(self) -> None:
        super().__init__("Verify your e-mail address (the link we sent) before creating API tokens.", field="email")
