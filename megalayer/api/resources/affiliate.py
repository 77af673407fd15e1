"""``/affiliate`` (+ ``/referrals``, ``/commissions``): the customer's link and what it earned (TOS-AFF-1)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from megalayer.affiliates.actions import affiliate_code_for
from megalayer.affiliates.models import Commission, Referral
from megalayer.affiliates.queries import (
    affiliate_link,
    affiliate_summary,
    commissions_of,
    masked_email,
    referrals_of,
)
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.resources.billing import MoneyOut, _customer, money_out
from megalayer.api.schemas import Problem
from megalayer.core import clock
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
