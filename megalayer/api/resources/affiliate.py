"""``/affiliate`` (+ ``/referrals``, ``/commissions``): the customer's link and what it earned (TOS-AFF-1)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema

from megalayer.accounts.queries import customer_by_public_id, signed_in_user
from megalayer.affiliates.actions import affiliate_clear, affiliate_code_for, referral_review
from megalayer.affiliates.models import Commission, Referral
from megalayer.affiliates.queries import (
    affiliate_link,
    affiliate_summary,
    commissions_of,
    masked_email,
    referral_by_public_id,
    referrals_of,
    referrals_with_signals,
)
from megalayer.api.auth import StaffTokenAuth, require_write, staff_auth
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.resources.billing import MoneyOut, _customer, money_out
from megalayer.api.schemas import Problem
from megalayer.core import clock
from megalayer.core.errors import NotFound
from megalayer.terms.queries import policy_at

router = Router(tags=["affiliate"])


class TotalOut(Schema):
    status: str
    amount: MoneyOut


class AffiliateOut(Schema):
    code: str
    link: str
    commission_percent: str
    holding_days: int
    referrals: int
    totals: list[TotalOut]


class ReferralOut(Schema):
    id: str
    who: str
    created_at: dt.datetime
    status: str


class ReferralPage(Schema):
    items: list[ReferralOut]
    next: str | None


class CommissionOut(Schema):
    id: str
    invoice_paid_at: dt.datetime | None
    amount: MoneyOut
    rate: str
    status: str
    available_at: dt.datetime
    credited_at: dt.datetime | None


class CommissionPage(Schema):
    items: list[CommissionOut]
    next: str | None


@router.get("/affiliate", response={200: AffiliateOut, 401: Problem, 404: Problem}, summary="Your referral link")
def affiliate(request: HttpRequest) -> AffiliateOut:
    customer = _customer(request)
    code = affiliate_code_for(customer)
    policy = policy_at(clock.now()).affiliates
    summary = affiliate_summary(customer)
    return AffiliateOut(
        code=code.code,
        link=affiliate_link(code.code),
        commission_percent=str(policy.commission_percent),
        holding_days=policy.holding_days,
        referrals=len(summary["referrals"]),
        totals=[TotalOut(status=t["status"], amount=money_out(t["amount"], t["currency"])) for t in summary["totals"]],
    )


@router.get(
    "/affiliate/referrals", response={200: ReferralPage, 401: Problem, 404: Problem, 422: Problem}, summary="Referrals"
)
def affiliate_referrals(request: HttpRequest, cursor: Cursor = None, limit: Limit = 25) -> dict[str, object]:
    def render(referral: Referral) -> ReferralOut:
        return ReferralOut(
            id=referral.public_id,
            who=masked_email(referral.referred.owner.email),
            created_at=referral.created_at,
            status=referral.status,
        )

    return paginate(referrals_of(_customer(request)), cursor=cursor, limit=limit, render=render)


@router.get(
    "/affiliate/commissions",
    response={200: CommissionPage, 401: Problem, 404: Problem, 422: Problem},
    summary="Commissions: holding, credited, cleared or voided",
)
def affiliate_commissions(request: HttpRequest, cursor: Cursor = None, limit: Limit = 25) -> dict[str, object]:
    def render(commission: Commission) -> CommissionOut:
        return CommissionOut(
            id=commission.public_id,
            invoice_paid_at=commission.invoice.paid_at,
            amount=money_out(commission.amount, commission.currency),
            rate=str(commission.rate),
            status=commission.status,
            available_at=commission.available_at,
            credited_at=commission.released_at,
        )

    return paginate(commissions_of(_customer(request)), cursor=cursor, limit=limit, render=render)


staff_router = Router(tags=["staff"], auth=StaffTokenAuth())
STAFF_ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class StaffReferralOut(Schema):
    id: str
    referrer: str
    referred: str
    referred_email: str
    created_at: dt.datetime
    status: str
    signals: list[str] = Field(description="Self-referral signs (TOS-AFF-2)")
    reviewed_signals: list[str] = Field(description="Signs staff judged genuine")


class ReviewIn(Schema):
    note: str = Field(min_length=1, max_length=500, description="Why these are two people")


class ClearIn(Schema):
    reason: str = Field(min_length=1, max_length=500, description="Why the affiliate's data is cleared")


class ClearedOut(Schema):
    referrals: int
    commissions: int


def _staff_referral_out(referral: Referral) -> StaffReferralOut:
    return StaffReferralOut(
        id=referral.public_id,
        referrer=referral.referrer.public_id,
        referred=referral.referred.public_id,
        referred_email=referral.referred.owner.email,
        created_at=referral.created_at,
        status=referral.status,
        signals=list(referral.signals),
        reviewed_signals=list(referral.reviewed_signals),
    )


@staff_router.get(
    "/staff/affiliates/review",
    auth=staff_auth("accounts.manage_catalog"),
    response={200: list[StaffReferralOut], **STAFF_ERRORS},
    summary="Active referrals with a self-referral sign not yet judged (TOS-AFF-2)",
)
def staff_affiliate_review_queue(request: HttpRequest) -> list[StaffReferralOut]:
    return [_staff_referral_out(r) for r in referrals_with_signals()]


@staff_router.post(
    "/staff/affiliates/referrals/{referral_id}/review",
    auth=staff_auth("accounts.manage_catalog"),
    response={200: StaffReferralOut, **STAFF_ERRORS},
    summary="Judge a referral's signs genuine (two people): its commissions may be credited",
)
def staff_referral_review(request: HttpRequest, referral_id: str, payload: ReviewIn) -> StaffReferralOut:
    require_write(request)
    referral = referral_by_public_id(referral_id)
    if referral is None:
        raise NotFound("No such referral.")
    return _staff_referral_out(referral_review(referral=referral, staff=signed_in_user(request), note=payload.note))


@staff_router.post(
    "/staff/customers/{customer_id}/affiliate/clear",
    auth=staff_auth("accounts.manage_catalog"),
    response={200: ClearedOut, **STAFF_ERRORS},
    summary="Clear an affiliate's referrals and unpaid commission, with the reason (TOS-AFF-2)",
)
def staff_affiliate_clear(request: HttpRequest, customer_id: str, payload: ClearIn) -> ClearedOut:
    require_write(request)
    customer = customer_by_public_id(customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    done = affiliate_clear(referrer=customer, staff=signed_in_user(request), reason=payload.reason)
    return ClearedOut(referrals=done["referrals"], commissions=done["commissions"])
