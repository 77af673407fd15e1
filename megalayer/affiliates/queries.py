"""Reads for the client area, the API and the back office."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from megalayer.affiliates.models import AffiliateCode, Commission, Referral


def masked_email(address: str) -> str:
    """``jane.doe@example.com`` → ``j***@example.com``: the referrer sees that someone came, not who."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def affiliate_link(code: str) -> str:
    """The address a customer shares; ``/r/<code>/`` remembers them and opens the sign-up."""
    from django.conf import settings

    return f"{settings.SITE_URL}/r/{code}/"


def referrals_of(customer: Any) -> QuerySet[Referral]:
    return Referral.objects.filter(referrer=customer).select_related("referred__owner")


def commissions_of(customer: Any) -> QuerySet[Commission]:
    return Commission.objects.filter(referral__referrer=customer).select_related("invoice", "referral")


def affiliate_summary(customer: Any) -> dict[str, Any]:
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    commissions = list(commissions_of(customer))
    for commission in commissions:
        totals[(commission.status, commission.currency)] += commission.amount
    return {
        "referrals": [{"referral": r, "who": masked_email(r.referred.owner.email)} for r in referrals_of(customer)],
        "commissions": commissions,
        "totals": [
            {"status": status, "label": Commission.Status(status).label, "currency": currency, "amount": amount}
            for (status, currency), amount in sorted(totals.items())
        ],
    }


def referral_of(customer: Any) -> Referral | None:
    """Who referred this customer, if anyone."""
    return Referral.objects.filter(referred=customer).select_related("referrer__owner").first()


def referrals_for_staff(status: str = "") -> QuerySet[Referral]:
    rows = Referral.objects.select_related("referrer__owner", "referred__owner")
    return rows.filter(status=status) if status else rows


def referral_by_public_id(public_id: str) -> Referral | None:
    return Referral.objects.filter(public_id=public_id).first()


def commissions_holding_count() -> int:
    return Commission.objects.filter(status=Commission.Status.HOLDING).count()


def code_taken(code: str) -> bool:
    return bool(AffiliateCode.objects.filter(code=code.lower()).exists())


def referrals_with_signals() -> list[Referral]:
    """Staff's review queue: active referrals with a sign not yet judged genuine."""
    rows = (
        Referral.objects.filter(status=Referral.Status.ACTIVE)
        .exclude(signals=[])
        .select_related("referrer__owner", "referred__owner")
    )
    return [referral for referral in rows if referral.unreviewed_signals]
