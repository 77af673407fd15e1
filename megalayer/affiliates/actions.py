"""Affiliates (TOS-AFF-1, TOS-AFF-2).

A customer's link (``/r/<code>/``) leaves a signed cookie; the sign-up that follows records a referral.
Commissions accrue on what the referred customer buys (orders and renewals after discounts, net of
tax), at the rate
of the Terms in force when the invoice was paid, and are credited to the referrer's balance after the
holding period, once, by one ledger transaction. A refund in the meantime reduces or voids them.

Self-referral (the Terms: "the recommendation of one natural person to another") is looked for at the
referral and again before every credit: the same e-mail (normalised), sign-up address, card or billing
identity. A referral with a sign staff have not judged genuine credits nothing; staff either judge it
genuine or clear the affiliate's data (referrals and unpaid commissions), audited with why.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from megalayer.accounts.models import Customer, User
from megalayer.affiliates.choices import COMMISSION_STATUS, REFERRAL_STATUS
from megalayer.affiliates.models import AffiliateCode, Commission, Referral
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import Invoice, Payment
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, NotFound
from megalayer.core.money import Money
from megalayer.core.sweep import sweep
from megalayer.ledger.actions import Leg, customer_balance_account, ledger_account, ledger_post
from megalayer.ledger.models import LedgerAccount
from megalayer.notices.actions import notice_for_customer
from megalayer.orders.choices import LineKind as OrderLine
from megalayer.services.choices import LineKind as ServiceLine
from megalayer.terms.queries import policy_at, version_number_at

ACTOR = Actor.system("affiliates")
REFERRAL_COOKIE = "megalayer_ref"
REFERRAL_SALT = "megalayer.affiliates"
REFERRAL_COOKIE_DAYS = 30
# Servers bought, after their coupon discount; not fees, not fines.
COMMISSIONABLE_KINDS = (OrderLine.ORDER, ServiceLine.RENEWAL, OrderLine.DISCOUNT)
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed from paper


def affiliate_code_for(customer: Any) -> AffiliateCode:
    """The customer's code, made on first use."""
    existing = AffiliateCode.objects.filter(customer=customer).first()
    if existing is not None:
        return existing
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        try:
            with transaction.atomic():
                return AffiliateCode.objects.create(customer=customer, code=code, created_at=clock.now())
        except IntegrityError:
            found = AffiliateCode.objects.filter(customer=customer).first()
            if found is not None:
                return found  # a concurrent first use made it
    raise RuntimeError("could not draw a free affiliate code")  # pragma: no cover - 31^8 codes


def normalised_email(address: str) -> str:
    """``Jo.Doe+x@GoogleMail.com`` → ``jodoe@gmail.com``: the same mailbox written differently."""
    local, _, domain = address.strip().lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        domain, local = "gmail.com", local.replace(".", "")
    return f"{local}@{domain}"


def referral_record(*, referred: Any, code: str) -> Referral | None:
    """At sign-up: the referral the code asks for, or nothing (unknown code, own code, already referred)."""
    owner = AffiliateCode.objects.select_related("customer__owner").filter(code=code.strip().lower()).first()
    if owner is None or owner.customer_id == referred.pk or owner.customer.status != "active":
        return None
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                referrer=owner.customer, referred=referred, code=owner.code, created_at=clock.now()
            )
    except IntegrityError:
        return None
    _refresh_signals(referral)
    return referral


def self_referral_signals(referrer: Any, referred: Any) -> list[str]:
    """The signs that one person is on both sides (TOS-AFF-2), each named plainly for staff."""
    from allauth.usersessions.models import UserSession

    signals: list[str] = []
    if normalised_email(referrer.owner.email) == normalised_email(referred.owner.email):
        signals.append("same e-mail address")
    referrer_ips = set(UserSession.objects.filter(user_id=referrer.owner_id).values_list("ip", flat=True))
    referrer_ips.add(referrer.signup_ip)
    referred_ips = set(UserSession.objects.filter(user_id=referred.owner_id).values_list("ip", flat=True))
    referred_ips.add(referred.signup_ip)
    if (referrer_ips & referred_ips) - {None, ""}:
        signals.append("same sign-in address")

    def cards(customer: Any) -> set[str]:
        details = Payment.objects.filter(customer=customer, status="succeeded").values_list("detail", flat=True)
        return {str(d["card_fingerprint"]) for d in details if isinstance(d, dict) and d.get("card_fingerprint")}

    if cards(referrer) & cards(referred):
        signals.append("same card")
    one, other = getattr(referrer, "billing_profile", None), getattr(referred, "billing_profile", None)
    if one is not None and other is not None:
        if one.tax_id and one.tax_id.replace(" ", "").upper() == other.tax_id.replace(" ", "").upper():
            signals.append("same tax ID")
        elif _identity(one) == _identity(other):
            signals.append("same billing name and address")
    return signals


def _identity(profile: Any) -> tuple[str, ...]:
    return tuple(
        " ".join(str(part).casefold().split())
        for part in (profile.name, profile.address_line1, profile.postal_code, profile.country)
    )


def _refresh_signals(referral: Referral) -> list[str]:

    pair = Customer.objects.select_related("owner", "billing_profile")
    signals = self_referral_signals(pair.get(pk=referral.referrer_id), pair.get(pk=referral.referred_id))
    merged = sorted(set(referral.signals) | set(signals))  # a sign once seen stays for staff to judge
    if merged != referral.signals:
        Referral.objects.filter(pk=referral.pk).update(signals=merged)
        referral.signals = merged
    return merged


def commissions_run(now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job: accrue commissions on newly paid invoices, then credit those whose holding
    period is over. Both steps are keyed (one commission per invoice, one ledger transaction per
    commission): a rerun, a second worker or a crash in between does nothing twice."""
    moment = now or clock.now()
    return {"accrued": _accrue(moment), **_release(moment)}


def _accrue(now: dt.datetime) -> int:

    accrued = 0
    paid = (
        Invoice.objects.filter(status=InvoiceStatus.PAID, customer__referred_by__status=Referral.Status.ACTIVE)
        .filter(commission__isnull=True, paid_at__gte=F("customer__referred_by__created_at"))
        .select_related("customer__referred_by")
    )
    for invoice in paid:
        assert invoice.paid_at is not None
        base = invoice.lines.filter(kind__in=COMMISSIONABLE_KINDS).aggregate(total=Sum("amount"))["total"]
        if not base or base <= 0:
            continue
        policy = policy_at(invoice.paid_at)
        rate = policy.affiliates.commission_percent
        amount = (Money(Decimal(base), invoice.currency) * rate * Decimal("0.01")).quantize()
        try:
            with transaction.atomic():
                Commission.objects.create(
                    referral=invoice.customer.referred_by,
                    invoice=invoice,
                    rate=rate,
                    base=Decimal(base),
                    amount=amount.amount,
                    currency=invoice.currency,
                    terms_version=version_number_at(invoice.paid_at),
                    accrued_at=now,
                    available_at=invoice.paid_at + dt.timedelta(days=policy.affiliates.holding_days),
                )
        except IntegrityError:
            continue  # a concurrent run accrued it
        accrued += 1
    return accrued


def _release(now: dt.datetime) -> dict[str, int]:
    due = Commission.objects.filter(status=Commission.Status.HOLDING, available_at__lte=now)
    pks = due.order_by("available_at").values_list("pk", flat=True)
    return sweep(pks, lambda pk: _release_one(pk, now), ("credited", "voided", "waiting"))


def _release_one(pk: int, now: dt.datetime) -> str:

    with transaction.atomic():
        commission = (
            Commission.objects.select_for_update()
            .select_related("referral__referrer", "invoice")
            .filter(pk=pk, status=Commission.Status.HOLDING)
            .first()
        )
        if commission is None:
            return ""
        referral = commission.referral
        waiting = _refresh_signals(referral) and referral.unreviewed_signals
        if waiting:
            why = "waits for staff: " + ", ".join(referral.unreviewed_signals)
        elif referral.referrer.status != "active":
            why = "waits: the referrer's account is not active"
        else:
            why = ""
        if why:
            Commission.objects.filter(pk=pk).update(note=why[:255])
            return "waiting"
        invoice = commission.invoice
        refunded = invoice.refunds.aggregate(total=Sum("amount"))["total"] or Decimal(0)
        share = (invoice.total - refunded) / invoice.total if invoice.total else Decimal(0)
        amount = (Money(commission.amount, commission.currency) * max(share, Decimal(0))).quantize()
        if amount.amount <= 0:
            COMMISSION_STATUS.move(commission, Commission.Status.VOIDED, note="the invoice was refunded")
            return "voided"
        posted = ledger_post(
            source="affiliates",
            idempotency_key=f"commission:{commission.public_id}",
            description=f"Affiliate commission on {invoice.display_number} ({commission.rate}%)",
            requirement="TOS-AFF-1",
            customer=referral.referrer,
            reference=commission.public_id,
            legs=[
                Leg(customer_balance_account(referral.referrer, amount.currency), amount),
                Leg(ledger_account(kind=LedgerAccount.Kind.COMMISSIONS, currency=amount.currency), -amount),
            ],
        )
        refund = Money(Decimal(refunded), invoice.currency).quantize()
        note = (
            "" if amount.amount == commission.amount else f"reduced by the refund of {refund.amount} {refund.currency}"
        )
        COMMISSION_STATUS.move(
            commission, Commission.Status.AVAILABLE, released_at=now, amount=amount.amount, note=note
        )
        audit_record(
            actor=ACTOR,
            action="affiliate.commission_credited",
            target_type="customer",
            target_id=referral.referrer.public_id,
            requirement="TOS-AFF-1",
            terms_version=commission.terms_version,
            data={"commission": commission.public_id, "amount": str(amount.amount), "currency": amount.currency,
                  "ledger": posted.transaction.public_id},
        )  # fmt: skip
    return "credited"


def referral_review(*, referral: Referral, staff: User, note: str) -> Referral:
    """Staff judged the signs genuine (two people at one address, say): the commissions may be credited."""
    if not note.strip():
        raise InvalidInput("Say why these are two people.", field="note")
    with transaction.atomic():
        locked = Referral.objects.select_for_update().filter(pk=referral.pk, status=Referral.Status.ACTIVE).first()
        if locked is None:
            raise NotFound("This referral is cleared.")
        Referral.objects.filter(pk=locked.pk).update(reviewed_signals=locked.signals, reviewed_by=str(staff))
        audit_record(
            actor=Actor.for_user(staff),
            action="affiliate.referral_reviewed",
            target_type="customer",
            target_id=locked.referrer.public_id,
            requirement="TOS-AFF-2",
            data={"referral": locked.public_id, "signals": locked.signals, "note": note.strip()[:500]},
        )
    referral.refresh_from_db()
    return referral


def affiliate_clear(*, referrer: Any, staff: User, reason: str) -> dict[str, int]:
    """Clear out an affiliate's data (TOS-AFF-2): their referrals and the commissions not yet credited.
    What was credited stays (it is on the balance, and the ledger is never rewritten)."""

    if not reason.strip():
        raise InvalidInput("Say why the affiliate data is cleared.", field="reason")
    now = clock.now()
    with transaction.atomic():
        referrals = Referral.objects.select_for_update().filter(referrer=referrer, status=Referral.Status.ACTIVE)
        signals = {r.public_id: r.signals for r in referrals}
        cleared = REFERRAL_STATUS.claim(
            referrals,
            sources=[Referral.Status.ACTIVE],
            target=Referral.Status.CLEARED,
            cleared_at=now,
            cleared_by=str(staff),
            cleared_reason=reason.strip()[:500],
        )
        unpaid = COMMISSION_STATUS.claim(
            Commission.objects.filter(referral__referrer=referrer),
            sources=[Commission.Status.HOLDING],
            target=Commission.Status.CLEARED,
            note="cleared: " + reason.strip()[:200],
        )
        audit_record(
            actor=Actor.for_user(staff),
            action="affiliate.cleared",
            target_type="customer",
            target_id=referrer.public_id,
            requirement="TOS-AFF-2",
            data={"referrals": cleared, "commissions": unpaid, "signals": signals, "reason": reason.strip()[:500]},
        )
        if cleared or unpaid:
            notice_for_customer(
                kind="affiliate_cleared",
                customer=referrer,
                dedupe_key=f"affiliate_cleared:{referrer.public_id}:{now:%Y%m%d%H%M%S}",
                context={"referrals": cleared, "commissions": unpaid, "reason": reason.strip()},
            )
    return {"referrals": cleared, "commissions": unpaid}


def affiliate_code_erase(*, customer: Customer) -> dict[str, int]:
    """The customer's referral code goes with their data (TOS-PRIVACY-1); commissions stay as financial records."""
    return {"affiliate_code": AffiliateCode.objects.filter(customer=customer).delete()[0]}
