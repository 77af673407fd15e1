"""The automation run (TOS-RENEW-1, TOS-EXPIRE-1): renewal invoices, reminders, auto-renew,
expiry, suspension and termination, all numbers from the terms version in force.

Selection is set-based and batched (one query per step and batch, never one per
service). Each effect is written in one transaction together with a
``LifecycleEffect`` row unique on (service, period, kind): a second run, a second
worker, or a run killed at any point and restarted does nothing twice and
finishes what was left.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q, QuerySet

from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.actions import invoice_pay_from_balance
from megalayer.billing.actions.bulk import BulkInvoice, invoices_issue_many
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import InvoiceLine
from megalayer.core import clock
from megalayer.core.errors import DeletionHeld, DomainError
from megalayer.core.transactions import outermost
from megalayer.ledger.models import Posting
from megalayer.notices.actions import notices_create_many
from megalayer.services import hooks
from megalayer.services.actions import service_suspend, service_terminate
from megalayer.services.actions.cancellations import cancellation_carry_out
from megalayer.services.actions.renewals import open_renewal, renewal_line
from megalayer.services.choices import CancelStatus, Effect, LineKind, Reason, Status
from megalayer.services.models import Cancellation, LifecycleEffect, Service
from megalayer.services.notices import service_notice_pending
from megalayer.services.periods import renewal_reference
from megalayer.services.runs import Planned, RunResult
from megalayer.terms.policy import Policy
from megalayer.terms.queries import policy_at

logger = logging.getLogger(__name__)
ACTOR = Actor.system("automation")


Work = Iterator[tuple[Service, Planned, Callable[[Service], str]]]


def _without(kind: str, detail: str = "") -> Exists:
    return Exists(
        LifecycleEffect.objects.filter(
            service=OuterRef("pk"), period_end=OuterRef("paid_until"), kind=kind, detail=detail
        )
    )


def _cancelled(**when: object) -> Exists:
    """The service has a pending end-of-term cancellation (``when``: conditions on its ``effective_at``)."""
    return Exists(Cancellation.objects.filter(service=OuterRef("pk"), status=CancelStatus.PENDING, **when))


def _renewing() -> Q:
    """Services that renew: not denied renewal by staff (TOS-REFUSE-1), not cancelled by the customer."""
    return Q(renewal_denied=False) & Q(~_cancelled())


def _batched(queryset: QuerySet[Service], batch_size: int) -> Iterator[Service]:
    for chunk in _chunks(queryset, batch_size):
        yield from (
            Service.objects.filter(pk__in=chunk)
            .select_related("customer__owner", "product__location", "product__tier")
            .order_by("pk")
        )


def automation_run(*, at: dt.datetime | None = None, dry_run: bool = False, batch_size: int = 500) -> RunResult:
    now = at or clock.now()
    policy = policy_at(now)
    result = RunResult(at=now, dry_run=dry_run)
    _renewal_invoice_batches(now, policy, batch_size, result)
    _run_steps((_auto_renewals,), now, policy, batch_size, result)
    _reminder_batches(now, policy, batch_size, result)
    _run_steps((_expiries, _suspensions, _terminations), now, policy, batch_size, result)
    # Steps of the apps above (the traffic allowance, provisioning): each keys its own effects the same way.
    for items in hooks.automation_steps.call(now, policy, dry_run, result.failures):
        result.items.extend(items)
    return result


def _run_steps(
    steps: tuple[Callable[[dt.datetime, Policy, int], Work], ...],
    now: dt.datetime,
    policy: Policy,
    batch_size: int,
    result: RunResult,
) -> None:
    """Steps whose effect is a status change with its own history, audit and notice: one transaction each."""
    dry_run = result.dry_run
    for step in steps:
        for service, planned, perform in step(now, policy, batch_size):
            if dry_run:
                result.items.append(planned)
                continue
            try:
                with outermost():
                    LifecycleEffect.objects.create(
                        service=service, period_end=service.paid_until, kind=planned.kind, detail=planned.detail, at=now
                    )
                    reference = perform(service)
                    if reference:
                        LifecycleEffect.objects.filter(
                            service=service, period_end=service.paid_until, kind=planned.kind, detail=planned.detail
                        ).update(reference=reference)
            except IntegrityError:
                continue  # another run recorded this effect first
            except DeletionHeld as stopped:
                # The step is not done (the next run tries again); that the hold stopped it is recorded once.
                _record_hold(service, stopped, now, result)
                continue
            except DomainError as error:
                result.failures.append(f"{service.public_id} {planned.kind}: {error.detail}")
                continue
            result.items.append(planned)


def _record_hold(service: Service, stopped: DeletionHeld, now: dt.datetime, result: RunResult) -> None:
    hold_id = stopped.hold_id
    try:
        with outermost():
            LifecycleEffect.objects.create(
                service=service, period_end=service.paid_until, kind=Effect.HELD, detail=hold_id, at=now,
                reference=hold_id,
            )  # fmt: skip
            audit_record(
                actor=ACTOR,
                action="service.deletion_held",
                target_type="service",
                target_id=service.public_id,
                requirement="TOS-HOLD-1",
                data={"hold": hold_id, "reason": stopped.reason},
            )
    except IntegrityError:
        return  # recorded by an earlier run
    result.items.append(Planned(service.public_id, Effect.HELD, hold_id, now, f"legal hold {hold_id}"))


def _chunks(queryset: QuerySet[Service], batch_size: int) -> Iterator[list[int]]:
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch_size):
        yield ids[start : start + batch_size]


def _renewal_invoice_batches(now: dt.datetime, policy: Policy, batch_size: int, result: RunResult) -> None:
    """Renewal invoices, a batch at a time: one lock, one insert per table, whatever the batch size."""

    horizon = now + dt.timedelta(days=policy.renewal.invoice_days_before)
    due = Service.objects.filter(
        _renewing(), status__in=[Status.ACTIVE, Status.SUSPENDED], paid_until__lte=horizon
    ).filter(~_without(Effect.RENEWAL_INVOICE))
    why = f"invoice {policy.renewal.invoice_days_before} days before expiry"
    for chunk in _chunks(due, batch_size):
        try:
            with outermost():
                # Locked and re-read: a concurrent run that took these rows first has recorded its effects.
                services = list(
                    due.filter(pk__in=chunk)
                    .select_for_update(of=("self",))
                    .select_related("customer__owner", "customer__billing_profile", "product")
                    .order_by("pk")
                )
                planned = [Planned(s.public_id, Effect.RENEWAL_INVOICE, "", s.paid_until, why) for s in services]
                if result.dry_run:
                    result.items.extend(planned)
                    continue
                LifecycleEffect.objects.bulk_create(
                    [
                        LifecycleEffect(service=s, period_end=s.paid_until, kind=Effect.RENEWAL_INVOICE, at=now)
                        for s in services
                    ]
                )
                invoices_issue_many(
                    actor=ACTOR,
                    drafts=[
                        BulkInvoice(
                            customer=s.customer,
                            currency=s.currency,
                            lines=[renewal_line(s)],
                            pays_from_balance=s.auto_renew,
                        )
                        for s in services
                    ],
                )
        except IntegrityError:
            continue  # another run recorded some of these first; the next run finishes what is left
        result.items.extend(planned)


def _reminder_batches(now: dt.datetime, policy: Policy, batch_size: int, result: RunResult) -> None:
    """The latest reminder whose day has come (7, 3, 1 days before expiry), a batch at a time."""

    days = sorted(policy.renewal.reminder_days_before, reverse=True)
    for index, day in enumerate(days):
        later = days[index + 1] if index + 1 < len(days) else 0
        due = Service.objects.filter(
            _renewing(),
            status=Status.ACTIVE,
            paid_until__gt=now + dt.timedelta(days=later),
            paid_until__lte=now + dt.timedelta(days=day),
        ).filter(~_without(Effect.REMINDER, str(day)))
        for chunk in _chunks(due, batch_size):
            try:
                with outermost():
                    services = list(
                        due.filter(pk__in=chunk)
                        .select_for_update(of=("self",))
                        .select_related("customer__owner", "product")
                        .order_by("pk")
                    )
                    references = {renewal_reference(s.public_id, s.paid_until): s for s in services}
                    open_lines = InvoiceLine.objects.filter(
                        kind=LineKind.RENEWAL, invoice__status=InvoiceStatus.ISSUED, reference__in=list(references)
                    ).select_related("invoice")
                    invoice_of = {line.reference: line.invoice for line in open_lines}
                    todo = [(s, invoice_of[ref]) for ref, s in references.items() if ref in invoice_of]
                    planned = [
                        Planned(
                            s.public_id,
                            Effect.REMINDER,
                            str(day),
                            s.paid_until - dt.timedelta(days=day),
                            f"{day} days before expiry, renewal unpaid",
                        )
                        for s, _ in todo
                    ]
                    if result.dry_run:
                        result.items.extend(planned)
                        continue
                    LifecycleEffect.objects.bulk_create(
                        [
                            LifecycleEffect(
                                service=s,
                                period_end=s.paid_until,
                                kind=Effect.REMINDER,
                                detail=str(day),
                                at=now,
                                reference=invoice.public_id,
                            )
                            for s, invoice in todo
                        ]
                    )
                    notices_create_many(
                        [
                            service_notice_pending(
                                service=s,
                                kind="renewal_reminder",
                                detail=str(day),
                                extra={"invoice": invoice},
                                policy=policy,
                            )
                            for s, invoice in todo
                        ]
                    )
            except IntegrityError:
                continue
            result.items.extend(planned)


def _auto_renewals(now: dt.datetime, policy: Policy, batch_size: int) -> Work:
    """Auto-renew pays an open renewal invoice from the balance once the balance covers it (retried each run).

    Which invoices the balances cover is one set-based query; only those services
    are then paid, one transaction each (a payment is a ledger transaction).
    """
    from django.db.models import DecimalField, F, Subquery, Sum, Value
    from django.db.models.functions import Coalesce

    balance = (
        Posting.objects.filter(
            account__kind="customer_balance",
            account__customer=OuterRef("invoice__customer_id"),
            currency=OuterRef("invoice__currency"),
        )
        .values("account__customer")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    payable = (
        InvoiceLine.objects.filter(kind=LineKind.RENEWAL, invoice__status=InvoiceStatus.ISSUED)
        .annotate(
            balance=Coalesce(Subquery(balance), Value(0), output_field=DecimalField(max_digits=20, decimal_places=4))
        )
        .filter(balance__gte=F("invoice__total") - F("invoice__amount_paid") - F("invoice__amount_credited"))
        .values("reference")
    )
    candidates = Service.objects.filter(
        _renewing(),
        status__in=[Status.ACTIVE, Status.SUSPENDED],
        auto_renew=True,
        paid_until__lte=now + dt.timedelta(days=policy.renewal.invoice_days_before),
    ).filter(~_without(Effect.AUTO_RENEW))
    references = set(payable.values_list("reference", flat=True))
    ids = [
        pk
        for pk, public_id, paid_until in candidates.values_list("pk", "public_id", "paid_until")
        if renewal_reference(public_id, paid_until) in references
    ]
    for service in _batched(Service.objects.filter(pk__in=ids), batch_size):
        yield (
            service,
            Planned(service.public_id, Effect.AUTO_RENEW, "", service.paid_until, "auto-renew on, balance covers it"),
            _pay_renewal,
        )


def _pay_renewal(service: Service) -> str:

    invoice = open_renewal(service)
    if invoice is None:
        return ""
    invoice_pay_from_balance(
        invoice=invoice,
        idempotency_key=f"auto-renew:{service.paid_until.isoformat()}",
        actor=ACTOR,
    )
    return invoice.public_id


def _expiries(now: dt.datetime, policy: Policy, batch_size: int) -> Work:
    candidates = Service.objects.filter(status=Status.ACTIVE, paid_until__lte=now).filter(~_without(Effect.EXPIRE))
    for service in _batched(candidates, batch_size):
        yield (
            service,
            Planned(service.public_id, Effect.EXPIRE, "", service.paid_until, "paid-until reached"),
            lambda s: "",
        )


def _suspensions(now: dt.datetime, policy: Policy, batch_size: int) -> Work:
    grace = dt.timedelta(days=policy.expiry.suspend_after_days)
    candidates = Service.objects.filter(_renewing(), status=Status.ACTIVE, paid_until__lte=now - grace).filter(
        ~_without(Effect.SUSPEND)
    )
    for service in _batched(candidates, batch_size):

        def suspend(service: Service) -> str:
            service_suspend(
                service=service,
                reason=Reason.OVERDUE,
                actor=ACTOR,
                requirement="TOS-EXPIRE-1",
                note=f"unpaid {policy.expiry.suspend_after_days} day(s) after expiry",
            )
            return ""

        yield (
            service,
            Planned(
                service.public_id,
                Effect.SUSPEND,
                "",
                service.paid_until + grace,
                f"{policy.expiry.suspend_after_days} day(s) after expiry, unpaid",
            ),
            suspend,
        )


def _terminations(now: dt.datetime, policy: Policy, batch_size: int) -> Work:
    grace = dt.timedelta(days=policy.expiry.delete_after_days)
    running = [Status.ACTIVE, Status.SUSPENDED]
    overdue = Service.objects.filter(_renewing(), status__in=running, paid_until__lte=now - grace).filter(
        ~_without(Effect.TERMINATE)
    )
    denied = Service.objects.filter(~_cancelled(), status__in=running, renewal_denied=True, paid_until__lte=now).filter(
        ~_without(Effect.TERMINATE)
    )
    cancelled = Service.objects.filter(_cancelled(effective_at__lte=now), status__in=running).filter(
        ~_without(Effect.TERMINATE)
    )
    for queryset, reason, requirement, why in (
        (overdue, Reason.OVERDUE, "TOS-EXPIRE-1", f"{policy.expiry.delete_after_days} days after expiry, unpaid"),
        (denied, Reason.RENEWAL_DENIED, "TOS-REFUSE-1", "renewal denied: ends at expiry"),
        (cancelled, Reason.CANCELLED, "TOS-TERM-1", "cancelled by the customer: ends at the end of the term"),
    ):
        for service in _batched(queryset, batch_size):

            def terminate(service: Service, reason: str = reason, requirement: str = requirement) -> str:
                if reason == Reason.CANCELLED:
                    cancellation_carry_out(service=service, actor=ACTOR)
                else:
                    service_terminate(service=service, reason=reason, actor=ACTOR, requirement=requirement)
                return ""

            due = service.paid_until + (grace if reason == Reason.OVERDUE else dt.timedelta(0))
            if reason == Reason.CANCELLED and service.cancel_at is not None:
                due = service.cancel_at
            yield service, Planned(service.public_id, Effect.TERMINATE, "", due, why), terminate
