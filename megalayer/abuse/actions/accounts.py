"""Measures on a whole account (TOS-VIOLATION-1, TOS-ABUSE-2) and the check every enforcement measure makes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from megalayer.abuse.actions.holds import LegalHoldStops, hold_over_customer
from megalayer.abuse.models import AbuseCase
from megalayer.accounts.actions import customer_status_change, user_sign_in_close
from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.services.actions import service_suspend, service_terminate
from megalayer.services.choices import Reason, Status
from megalayer.services.models import Service
from megalayer.terms.queries import requirement_check

CASE_BOUND = ("TOS-ABUSE-2", "TOS-VIOLATION-1")


def enforcement_check(*, customer: Any, requirement: str, case: AbuseCase | None, needs_case: bool = False) -> None:
    """What every enforcement measure must name (TOS-ABUSE-2, TOS-VIOLATION-1): a clause of the Terms in force,
    and, for abuse or a violation, the case behind it, a case about this customer. Refused before anything
    changes."""
    requirement_check(requirement)
    if case is None and (needs_case or requirement in CASE_BOUND):
        raise InvalidInput("A measure for abuse or a violation names its abuse case.", field="case")
    if case is not None and case.customer_id != customer.pk:
        raise InvalidInput("That case is about another customer.", field="case")


def account_close(*, customer: Any, staff: User, requirement: str, note: str, case: AbuseCase | None = None) -> Any:
    """Close a whole account (TOS-VIOLATION-1, or on request): every live service is terminated and sign-in
    stops. A standing legal hold on the customer, their services or an address they held stops all of it;
    that is recorded (TOS-HOLD-1). Nothing is refunded for a violation."""

    enforcement_check(customer=customer, requirement=requirement, case=case)
    actor = Actor.for_user(staff)
    reference = note + (f" (case {case.public_id})" if case else "")
    hold = hold_over_customer(customer)
    if hold is not None:
        audit_record(
            actor=actor,
            action="account.close_held",
            target_type="customer",
            target_id=customer.public_id,
            requirement="TOS-HOLD-1",
            data={"hold": hold.public_id, "note": reference},
        )
        raise LegalHoldStops(hold)
    reason = Reason.VIOLATION if requirement == "TOS-VIOLATION-1" else Reason.STAFF
    with transaction.atomic():
        for service in Service.objects.select_for_update().filter(
            customer=customer, status__in=[Status.ACTIVE, Status.SUSPENDED]
        ):
            service_terminate(service=service, reason=reason, actor=actor, requirement=requirement, note=reference)
        customer_status_change(customer=customer, to=Customer.Status.CLOSED)
        user_sign_in_close(user_id=customer.owner_id)
        audit_record(
            actor=actor,
            action="account.closed",
            target_type="customer",
            target_id=customer.public_id,
            requirement=requirement,
            data={"note": reference, "case": case.public_id if case else None},
        )
    customer.refresh_from_db()
    return customer


def account_suspend(
    *,
    customer: Any,
    staff: User | None,
    requirement: str,
    note: str,
    case: AbuseCase | None = None,
    actor: Actor | None = None,
) -> Any:
    """Suspend a whole account (TOS-ABUSE-2, TOS-VIOLATION-1): every active service is suspended; nothing is
    deleted, so no legal hold is needed to keep the data. The account places no new orders meanwhile.

    ``staff`` decides; or, with ``staff`` None, the desk's ``actor`` under the repeat-offence policy."""

    enforcement_check(customer=customer, requirement=requirement, case=case)
    if customer.status != Customer.Status.ACTIVE:
        raise RuleRefused("The account is not active.", rule="account-not-active", requirement=requirement)
    if actor is None:
        if staff is None:
            raise ValueError("an account suspension names who decided it")
        actor = Actor.for_user(staff)
    reference = note + (f" (case {case.public_id})" if case else "")
    with transaction.atomic():
        for service in Service.objects.filter(customer=customer, status=Status.ACTIVE):
            service_suspend(service=service, reason=Reason.ABUSE, actor=actor, requirement=requirement, note=reference)
        customer_status_change(customer=customer, to=Customer.Status.SUSPENDED)
        audit_record(
            actor=actor,
            action="account.suspended",
            target_type="customer",
            target_id=customer.public_id,
            requirement=requirement,
            data={"note": reference, "case": case.public_id if case else None},
        )
    customer.refresh_from_db()
    return customer
