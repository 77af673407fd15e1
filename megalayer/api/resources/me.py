"""``/me``: who the token belongs to."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema

from megalayer.accounts.models import ApiToken
from megalayer.accounts.queries import attention_of
from megalayer.api.schemas import Problem
from megalayer.terms.queries import current_version, latest_acceptance

router = Router(tags=["me"])


class BillingProfileOut(Schema):
    name: str
    organisation: str
    address_line1: str
    address_line2: str
    city: str
    postal_code: str
    region: str
    country: str
    tax_id: str


class AttentionOut(Schema):
    code: str = Field(description="email-bounced, password-old")
    message: str
    url: str = Field(description="Where in the client area to fix it")


class MeOut(Schema):
    id: str | None
    email: str
    full_name: str
    is_staff: bool
    token_scope: str
    billing_profile: BillingProfileOut | None
    terms_accepted_version: int | None
    terms_current_version: int | None
    email_bounced_at: dt.datetime | None = Field(description="Mail to the address bounced: fix it (TOS-EMAIL-1)")
    attention: list[AttentionOut] = Field(description="What the account holder should fix, as the client area asks")


@router.get("/me", response={200: MeOut, 401: Problem}, summary="The account behind the token")
def me(request: HttpRequest) -> MeOut:
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    user = token.user
    customer = getattr(user, "customer", None)
    profile = getattr(customer, "billing_profile", None) if customer is not None else None
    accepted = latest_acceptance(user)
    current = current_version()
    return MeOut(
        id=customer.public_id if customer is not None else None,
        email=user.email,
        full_name=user.full_name,
        is_staff=user.is_staff,
        token_scope=token.scope,
        billing_profile=BillingProfileOut.from_orm(profile) if profile is not None else None,
        terms_accepted_version=accepted.version.number if accepted else None,
        terms_current_version=current.number if current else None,
        email_bounced_at=user.email_bounced_at,
        attention=[AttentionOut(code=a.code, message=a.message, url=a.url) for a in attention_of(user)],
    )
