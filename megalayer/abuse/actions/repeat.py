"""Repeat offences (TOS-ABUSE-2): the Terms' ``abuse.repeat_offence`` policy turns a customer's run of abuse cases
into a proposal to staff, or the account's suspension, with a record of the cases that made it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count

from megalayer.abuse.actions.accounts import account_suspend
from megalayer.abuse.models import AbuseCase, RepeatOffence
from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.notices.actions import notice_for_staff
from megalayer.terms.queries import policy_at, version_number_at

DESK = Actor.system("abuse desk")


@dataclass(frozen=True, slots=True)
class Offence:
    customer: str
    cases: list[str]
    measure: str


def repeat_offences_found(now: dt.datetime) -> list[tuple[Customer, list[AbuseCase]]]:
    """Active customers with at least ``cases`` cases opened within ``days`` whose latest case has not yet been
    judged a repeat offence."""
    policy = policy_at(now).abuse.repeat_offence
    since = now - dt.timedelta(days=policy.days)
    window = AbuseCase.objects.filter(opened_at__gt=since, opened_at__lte=now)
    over = (
        window.filter(customer__status=Customer.Status.ACTIVE)
        .values("customer")
        .annotate(n=Count("id"))
        .filter(n__gte=policy.cases)
        .values_list("customer", flat=True)
    )
    found = []
    for customer in Customer.objects.filter(pk__in=list(over)).order_by("pk"):
        cases = list(window.filter(customer=customer).order_by("opened_at", "id"))
        if not RepeatOffence.objects.filter(latest_case=cases[-1]).exists():
            found.append((customer, cases))
    return found


def repeat_offences_run(now: dt.datetime, *, dry_run: bool = False) -> list[Offence]:
    """Apply the policy in force; ``dry_run`` lists what it would do and changes nothing."""
    policy = policy_at(now).abuse.repeat_offence
    if policy.measure == "none":
        return []
    done: list[Offence] = []
    for customer, cases in repeat_offences_found(now):
        offence = Offence(customer.public_id, [c.public_id for c in cases], policy.measure)
        if not dry_run and not _record(customer, cases, policy.measure, now):
            continue
        done.append(offence)
    return done


def _record(customer: Customer, cases: list[AbuseCase], measure: str, now: dt.datetime) -> bool:
    latest = cases[-1]
    ids = [c.public_id for c in cases]
    suspend = measure == "suspend_account"
    try:
        with transaction.atomic():
            offence = RepeatOffence.objects.create(
                customer=customer,
                latest_case=latest,
                cases=ids,
                detected_at=now,
                terms_version=version_number_at(now),
                outcome=RepeatOffence.Outcome.SUSPENDED if suspend else RepeatOffence.Outcome.PROPOSED,
                decided_at=now if suspend else None,
                decided_by=DESK.label if suspend else "",
            )
            audit_record(
                actor=DESK,
                action="abuse.repeat_offence",
                target_type="customer",
                target_id=customer.public_id,
                requirement="TOS-ABUSE-2",
                terms_version=offence.terms_version,
                data={"offence": offence.public_id, "cases": ids, "measure": measure},
            )
            if suspend:
                account_suspend(
                    customer=customer,
                    staff=None,
                    actor=DESK,
                    requirement="TOS-ABUSE-2",
                    note=f"repeat offence {offence.public_id}: {len(ids)} cases",
                    case=latest,
                )
            else:
                notice_for_staff(
                    kind="repeat_offence",
                    dedupe_key=f"repeat_offence:{offence.public_id}",
                    context={"offence": offence, "customer": customer, "cases": ids},
                )
    except IntegrityError:
        return False  # another run recorded it first
    return True


def repeat_offence_decide(*, offence: RepeatOffence, staff: User, suspend: bool, note: str) -> RepeatOffence:
    """Staff decide a proposal: suspend the account (naming the latest case) or dismiss it, saying why."""
    if not note.strip():
        raise InvalidInput("Say why; it is recorded in the audit log.", field="note")
    with transaction.atomic():
        locked = RepeatOffence.objects.select_for_update().get(pk=offence.pk)
        if locked.outcome != RepeatOffence.Outcome.PROPOSED:
            raise RuleRefused("This repeat offence was decided.", rule="already-decided", requirement="TOS-ABUSE-2")
        if suspend:
            account_suspend(
                customer=locked.customer,
                staff=staff,
                requirement="TOS-ABUSE-2",
                note=f"repeat offence {locked.public_id}: {note.strip()}",
                case=locked.latest_case,
            )
        outcome = RepeatOffence.Outcome.SUSPENDED if suspend else RepeatOffence.Outcome.DISMISSED
        RepeatOffence.objects.filter(pk=locked.pk).update(
            outcome=outcome, decided_at=clock.now(), decided_by=str(staff), note=note.strip()[:500]
        )
        audit_record(
            actor=Actor.for_user(staff),
            action=f"abuse.repeat_offence_{outcome}",
            target_type="customer",
            target_id=locked.customer.public_id,
            requirement="TOS-ABUSE-2",
            data={"offence": locked.public_id, "note": note.strip()[:500]},
        )
    offence.refresh_from_db()
    return offence
