"""Personal data (TOS-PRIVACY-1): the customer's own export, and account deletion.

Deleting an account is two steps. The request stops sign-in at once (sessions ended, API tokens
revoked) and says when the data goes; after the grace period of the Terms in force
(``accounts.erasure_grace_days``) the erasure job erases the personal data. Two things keep data:

* a standing legal hold (TOS-HOLD-1) over the customer, one of their services or an address they
  held stops the erasure whole; the job records once per hold that it stopped, and runs on the
  first pass after the hold ends. The customer is never told of a hold: the request looks the same.
* financial-record retention keeps invoices (with the billing address as issued), payments, ledger
  postings and orders, and the append-only audit log keeps the enforcement and consent record
  (TOS-AUDIT-1). What is erased and what is kept, and why, is written on the request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from megalayer.accounts.actions import customer_status_change, user_sign_in_close
from megalayer.accounts.actions.erasure import account_erase
from megalayer.accounts.models import Customer, User
from megalayer.affiliates.actions import affiliate_code_erase
from megalayer.affiliates.models import Commission
from megalayer.audit.actions import Actor, audit_record
from megalayer.audit.models import AuditEvent
from megalayer.billing.models import Invoice, Payment
from megalayer.core import clock
from megalayer.core.errors import DeletionHeld, InvalidInput, NotFound, RuleRefused
from megalayer.core.sweep import sweep
from megalayer.core.transactions import outermost
from megalayer.ledger.models import Posting
from megalayer.ledger.queries import customer_balances
from megalayer.network.models import IpAssignment
from megalayer.notices.actions import notice_for_customer
from megalayer.notices.actions.erasure import notices_erase
from megalayer.notices.choices import Kind
from megalayer.notices.models import Notice
from megalayer.orders.models import Order
from megalayer.privacy import hooks
from megalayer.privacy.choices import ERASURE_STATUS
from megalayer.privacy.collect import personal_data, zip_with_manifest
from megalayer.privacy.models import ErasureRequest, PrivacyPolicyAcceptance
from megalayer.services.actions import services_erase
from megalayer.services.models import Service
from megalayer.support.actions import support_erase
from megalayer.support.models import Ticket
from megalayer.terms.actions import terms_erase_addresses
from megalayer.terms.models import TermsAcceptance
from megalayer.terms.queries import policy_at

LIVE_SERVICE_STATUSES = ("pending", "provisioning", "active", "suspended", "terminating")
OPEN_ORDER_STATUSES = ("awaiting_payment", "in_review")


def erased_email(customer: Any) -> str:
    """A unique address that can never receive mail (``.invalid`` is reserved, RFC 2606)."""
    return f"erased-{customer.public_id}@erased.invalid"


def privacy_export(*, customer: Any, actor: Actor) -> bytes:
    """The customer's personal data as a zip of JSON files with a manifest of checksums. Made on
    request and not stored: a copy kept here would be one more copy to protect and to erase."""
    if customer.erased_at is not None:
        raise NotFound("This account's personal data has been erased.")
    files = personal_data(customer)
    payload = zip_with_manifest(
        files, {"customer": customer.public_id, "made_at": clock.now().isoformat(), "requirement": "TOS-PRIVACY-1"}
    )
    audit_record(
        actor=actor,
        action="privacy.exported",
        target_type="customer",
        target_id=customer.public_id,
        requirement="TOS-PRIVACY-1",
        data={"files": sorted(files), "bytes": len(payload)},
    )
    return payload


def erasure_blockers(customer: Any) -> list[str]:
    """What must end before an account can be deleted: running services and orders still open.
    Deleting an account never ends a service by surprise; the customer lets it end (renewal off)
    or asks support to end it now."""

    blockers = [
        f"Service {s.public_id} ({s.product.name}) is {s.get_status_display().lower()}."
        for s in Service.objects.filter(customer=customer, status__in=LIVE_SERVICE_STATUSES).select_related("product")
    ]
    blockers += [
        f"Order {o.public_id} is {o.get_status_display().lower()}."
        for o in Order.objects.filter(customer=customer, status__in=OPEN_ORDER_STATUSES)
    ]
    return blockers


def balance_forfeited(customer: Any) -> list[Any]:
    """The balance left on the account: it cannot be paid out (TOS-BAL-1), so deleting forfeits it."""

    return [amount for amount in customer_balances(customer) if amount.amount > 0]


def erasure_request(
    *, customer: Any, actor: Actor, requested_by: str, note: str = "", balance_acknowledged: bool = False
) -> ErasureRequest:
    """Close the account now and schedule the erasure. Asking twice returns the first request."""

    if customer.erased_at is not None:
        raise RuleRefused("This account has already been erased.", rule="already-erased", requirement="TOS-PRIVACY-1")
    existing = ErasureRequest.objects.filter(customer=customer, status=ErasureRequest.Status.SCHEDULED).first()
    if existing is not None:
        return existing
    blockers = erasure_blockers(customer)
    if blockers:
        raise RuleRefused("End these first: " + " ".join(blockers), rule="erasure-blocked", requirement="TOS-PRIVACY-1")
    if balance_forfeited(customer) and not balance_acknowledged:
        raise InvalidInput(
            "Your balance cannot be paid out (Terms: Account and others 2); confirm that it is given up.",
            field="acknowledge_balance",
        )
    now = clock.now()
    grace = policy_at(now).accounts.erasure_grace_days
    try:
        with outermost():
            request = ErasureRequest.objects.create(
                customer=customer,
                requested_at=now,
                requested_by=requested_by[:255],
                note=note.strip()[:500],
                erase_after=now + dt.timedelta(days=grace),
                status_before=customer.status,
            )
            user_sign_in_close(user_id=customer.owner_id)
            customer_status_change(customer=customer, to=Customer.Status.CLOSED)
            notice_for_customer(
                kind=Kind.ACCOUNT_DELETION,
                customer=customer,
                dedupe_key=f"erasure_requested:{request.public_id}",
                context={
                    "request": request,
                    "grace_days": grace,
                    "support_address": settings.MEGALAYER_SUPPORT_ADDRESS,
                },
            )
            audit_record(
                actor=actor,
                action="privacy.erasure_requested",
                target_type="customer",
                target_id=customer.public_id,
                requirement="TOS-PRIVACY-1",
                data={
                    "request": request.public_id,
                    "erase_after": request.erase_after.isoformat(),
                    "note": request.note,
                },
            )
    except IntegrityError:
        # A second click or a second tab: the unique constraint let one request through; that one stands.
        return ErasureRequest.objects.get(customer=customer, status=ErasureRequest.Status.SCHEDULED)
    customer.refresh_from_db()
    return request


def erasure_cancel(*, request: ErasureRequest, staff: User, note: str) -> ErasureRequest:
    """Staff stop a scheduled erasure (the customer changed their mind, or did not ask): the account
    returns to the status it had, and sign-in with it. API tokens stay revoked."""
    if not note.strip():
        raise InvalidInput("Say why the deletion is cancelled.", field="note")
    customer = request.customer
    with transaction.atomic():
        if not ERASURE_STATUS.claim(
            ErasureRequest.objects.filter(pk=request.pk),
            sources=[ErasureRequest.Status.SCHEDULED],
            target=ErasureRequest.Status.CANCELLED,
            cancelled_by=str(staff),
            completed_at=clock.now(),
        ):
            raise NotFound("This request is no longer scheduled.")
        customer_status_change(customer=customer, to=request.status_before)
        if request.status_before != type(customer).Status.CLOSED:
            type(customer.owner).objects.filter(pk=customer.owner_id).update(is_active=True)
        audit_record(
            actor=Actor.for_user(staff),
            action="privacy.erasure_cancelled",
            target_type="customer",
            target_id=customer.public_id,
            requirement="TOS-PRIVACY-1",
            data={"request": request.public_id, "note": note.strip()[:500]},
        )
    request.refresh_from_db()
    return request


ACTOR = Actor.system("privacy")


def erasures_run_due(now: dt.datetime | None = None) -> dict[str, int]:
    """Erase every account whose grace period is over, unless a hold stops it or it must still wait."""
    moment = now or clock.now()
    due = ErasureRequest.objects.filter(status=ErasureRequest.Status.SCHEDULED, erase_after__lte=moment)
    pks = due.order_by("erase_after").values_list("pk", flat=True)
    return sweep(pks, lambda pk: _run_one(pk, moment), ("erased", "held", "waiting"))


def _run_one(pk: int, now: dt.datetime) -> str:

    files: list[str] = []
    with transaction.atomic():
        request = (
            ErasureRequest.objects.select_for_update()
            .select_related("customer__owner")
            .filter(pk=pk, status=ErasureRequest.Status.SCHEDULED)
            .first()
        )
        if request is None:
            return ""  # a concurrent run took it
        customer = request.customer
        try:
            hooks.erasure_guard.call(customer, now)
        except DeletionHeld as hold:
            # Recorded once per hold: later runs find held_by already naming it.
            if ErasureRequest.objects.filter(pk=pk).exclude(held_by=hold.hold_id).update(held_by=hold.hold_id):
                audit_record(
                    actor=ACTOR,
                    action="privacy.erasure_held",
                    target_type="customer",
                    target_id=customer.public_id,
                    requirement="TOS-HOLD-1",
                    data={"request": request.public_id, "hold": hold.hold_id, "reason": hold.reason},
                )
            return "held"
        waiting = erasure_blockers(customer)
        in_flight = Notice.objects.filter(customer=customer, status__in=["queued", "sending"]).count()
        if in_flight:
            waiting.append(f"{in_flight} notice(s) still being delivered.")
        if waiting:
            ErasureRequest.objects.filter(pk=pk).update(waiting_for=" ".join(waiting)[:255])
            return "waiting"
        summary, files = _erase(customer, now)
        ERASURE_STATUS.move(request, ErasureRequest.Status.ERASED, completed_at=now, summary=summary, waiting_for="")
        audit_record(
            actor=ACTOR,
            action="privacy.erased",
            target_type="customer",
            target_id=customer.public_id,
            requirement="TOS-PRIVACY-1",
            data={"request": request.public_id, "after_hold": request.held_by or None, **summary},
        )
        transaction.on_commit(lambda: _delete_files(files))
    return "erased"


def _delete_files(names: list[str]) -> None:
    """After the commit: a rolled-back erasure must not have lost the files."""
    for name in names:
        default_storage.delete(name)


def _erase(customer: Customer, now: dt.datetime) -> tuple[dict[str, Any], list[str]]:
    """Erase in place, in one transaction, each app through its own action. Rows that other records
    point to (the customer, tickets, notices, messages) stay with their content replaced, so the counts,
    dedupe keys and references of the kept records still hold; rows that are only personal data go."""
    user = customer.owner
    old_email = user.email
    alias = erased_email(customer)
    ticket_ids = list(Ticket.objects.filter(customer=customer).values_list("public_id", flat=True))
    erased: dict[str, Any] = {}
    erased.update(notices_erase(customer=customer, old_email=old_email, alias=alias, ticket_ids=ticket_ids))
    support_erased, files = support_erase(customer=customer)
    erased.update(support_erased)
    erased.update(services_erase(customer=customer, old_email=old_email))
    erased.update(terms_erase_addresses(user=user))
    erased["privacy_policy_acceptance_addresses"] = PrivacyPolicyAcceptance.objects.filter(
        user=user, ip_address__isnull=False
    ).update(ip_address=None)
    erased.update(affiliate_code_erase(customer=customer))
    for more in hooks.erase.call(customer, old_email):  # the apps above: the abuse desk, the API's replays
        erased.update(more)
    erased.update(account_erase(customer=customer, alias=alias, now=now))
    kept = {
        "invoices": [Invoice.objects.filter(customer=customer).count(), "financial records, billing address as issued"],
        "payments": [Payment.objects.filter(customer=customer).count(), "financial records"],
        "ledger_postings": [Posting.objects.filter(account__customer=customer).count(), "financial records"],
        "orders": [Order.objects.filter(customer=customer).count(), "financial records"],
        "affiliate_commissions": [
            Commission.objects.filter(referral__referrer=customer).count(),
            "financial records (credited to the balance)",
        ],
        "terms_acceptances": [
            TermsAcceptance.objects.filter(user=user).count(),
            "the contract the financial records rest on (version and time only)",
        ],
        "ip_history": [
            IpAssignment.objects.filter(customer=customer).count(),
            "network records that complaints are matched against (TOS-ABUSE-1)",
        ],
        "audit_events": [
            AuditEvent.objects.filter(target_type="customer", target_id=customer.public_id).count(),
            "append-only, tamper-evident enforcement and consent record (TOS-AUDIT-1)",
        ],
    }
    for reasons in hooks.kept.call(customer):
        kept.update(reasons)
    return {"erased": erased, "kept": kept}, files
