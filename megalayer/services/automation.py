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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet

from megalayer.audit.actions import Actor
from megalayer.billing.models import Invoice
from megalayer.core import clock
from megalayer.core.errors import DomainError
from megalayer.services.choices import Effect, Reason, Status
from megalayer.services.models import LifecycleEffect, Service
from megalayer.terms.policy import Policy
from megalayer.terms.queries import policy_at

logger = logging.getLogger(__name__)
ACTOR = Actor.system("automation")


@dataclass(frozen=True, slots=True)
class Planned:
    service: str
    kind: str
    detail: str
    due: dt.datetime
    why: str


@dataclass
class RunResult:
    at: dt.datetime
    dry_run: bool
    items: list[Planned] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(item.kind for item in self.items))


Work = Iterator[tuple[Service, Planned, Callable[[Service], str]]]


def _without(kind: str, detail: str = "") -> Exists:
    return Exists(
        LifecycleEffect.objects.filter(
            service=OuterRef("pk"), period_end=OuterRef("paid_until"), kind=kind, detail=detail
        )
    )


def _batched(queryset: QuerySet[Service], batch_size: int) -> Iterator[Service]:
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch_size):
        yield from (
            Service.objects.filter(pk__in=ids[start : start + batch_size])
            .select_related("customer__owner", "product__location", "product__tier")
            .order_by("pk")
        )


def automation_run(*, at: dt.datetime | None = None, dry_run: bool = False, batch_size: int = 500) -> RunResult:
    now = at or clock.now()
    policy = policy_at(now)
    result = RunResult(at=now, dry_run=dry_run)
    for step in (_renewal_invoices, _auto_renewals, _reminders, _expiries, _suspensions, _terminations):
        for service, planned, perform in step(now, policy, batch_size):
            if dry_run:
                result.items.append(planned)
                continue
            try:
                with transaction.atomic():
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
            except DomainError as error:
                result.failures.append(f"{service.public_id} {planned.kind}: {error.detail}")
                continue
            result.items.append(planned)
    return result


def _renewal_invoices(now: dt.datetime, policy: Policy, batch_size: int) -> Work:
    horizon = now + dt.timedelta(days=policy.renewal.invoice_days_before)
    candidates = Service.objects.filter(
        status__in=[Status.ACTIVE, Status.SUSPENDED], renewal_denied=False, paid_until__lte=horizon
    ).filter(~_without(Effect.RENEWAL_INVOICE))
    for service in _batched(candidates, batch_size):
        yield (
            service,
            Planned(
                service.public_id,
                Effect.RENEWAL_INVOICE,
                "",
                service.paid_until,
                f"expires {service.paid_until:%Y-%m-%d}; invoice {policy.renewal.invoice_days_before} days before",
            ),
            _issue_renewal,
        )


def _issue_renewal(service: Service) -> str:
    from megalayer.billing.actions import LineData, invoice_create, invoice_issue
    from megalayer.core.money import Money
    from megalayer.services.actions import next_period_end

    end = next_period_end(service, service.paid_until)
    draft = invoice_create(
        customer=service.customer,
        currency=service.currency,
        lines=[
            LineData(
                kind="renewal",
                reference=f"{service.public_id}:{service.paid_until.isoformat()}",
                description=f"Renewal of {service.product.name} ({service.public_id})",
                unit_price=Money(service.recurring_amount, service.currency),
                period_start=service.paid_until,
                period_end=end,
            )
        ],
    )
    invoice = invoice_issue(invoice=draft, actor=ACTOR, auto_apply=service.auto_renew)
    return invoice.public_id


def _open_renewal(service: Service) -> Invoice | None:
    return Invoice.objects.filter(
        status="issued", lines__kind="renewal", lines__reference=f"{service.public_id}:{service.paid_until.isoformat()}"
    ).first()


def _auto_renewals(now: dt.datetime, policy: Policy, batch_size: int) -> Work:
    """Auto-renew retries paying an open renewal invoice from the balance until expiry."""
    from megalayer.billing.models import InvoiceLine

    open_lines = InvoiceLine.objects.filter(
        kind="renewal", invoice__status="issued", reference__startswith=OuterRef("public_id")
    )
    candidates = Service.objects.filter(
        status__in=[Status.ACTIVE, Status.SUSPENDED], auto_renew=True, renewal_denied=False
    ).filter(Exists(open_lines), ~_without(Effect.AUTO_RENEW))
    for service in _batched(candidates, batch_size):
        invoice = _open_renewal(service)
        if invoice is None:
            continue
        from megalayer.ledger.queries import customer_balance

        if customer_balance(service.customer, service.currency) < invoice.amount_due:
            continue
        yield (
            service,
            Planned(service.public_id, Effect.AUTO_RENEW, "", service.paid_until, "auto-renew on, balance covers it"),
            _pay_renewal,
        )


def _pay_renewal(service: Service) -> str:
    from megalayer.billing.actions import invoice_pay_from_balance

    invoice = _open_renewal(service)
    if invoice is None:
        return ""
    invoice_pay_from_balance(
        invoice=invoice,
        idempotency_key=f"auto-renew:{service.paid_until.isoformat()}",
        actor=ACTOR,
    )
    return invoice.public_id


def _reminders(now: dt.datetime, policy: Policy, batch_size: int) -> Work:
    """The latest reminder whose day has come: 7, 3, 1 days before expiry (a missed one is not sent late)."""
    days = sorted(policy.renewal.reminder_days_before, reverse=True)
    for index, day in enumerate(days):
        later = days[index + 1] if index + 1 < len(days) else 0
        candidates = Service.objects.filter(
            status=Status.ACTIVE,
            renewal_denied=False,
            paid_until__gt=now + dt.timedelta(days=later),
            paid_until__lte=now + dt.timedelta(days=day),
        ).filter(~_without(Effect.REMINDER, str(day)))
        for service in _batched(candidates, batch_size):
            if _open_renewal(service) is None:
                continue  # paid already: nothing to remind of

            def send(service: Service, day: int = day) -> str:
                from megalayer.services.notices import notice_service

                invoice = _open_renewal(service)
                if invoice is None:
                    return ""
                return str(
                    notice_service(
                        service=service, kind="renewal_reminder", detail=str(day), extra={"invoice": invoice}
                    ).public_id
                )

            yield (
                service,
                Planned(
                    service.public_id,
                    Effect.REMINDER,
                    str(day),
                    service.paid_until - dt.timedelta(days=day),
                    f"{day} days before expiry, renewal unpaid",
                ),
                send,
            )


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
    candidates = Service.objects.filter(status=Status.ACTIVE, renewal_denied=False, paid_until__lte=now - grace).filter(
        ~_without(Effect.SUSPEND)
    )
    for service in _batched(candidates, batch_size):

        def suspend(service: Service) -> str:
            from megalayer.services.actions import service_suspend

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
    overdue = Service.objects.filter(
        status__in=[Status.ACTIVE, Status.SUSPENDED], renewal_denied=False, paid_until__lte=now - grace
    ).filter(~_without(Effect.TERMINATE))
    denied = Service.objects.filter(
        status__in=[Status.ACTIVE, Status.SUSPENDED], renewal_denied=True, paid_until__lte=now
    ).filter(~_without(Effect.TERMINATE))
    for queryset, reason, requirement, why in (
        (overdue, Reason.OVERDUE, "TOS-EXPIRE-1", f"{policy.expiry.delete_after_days} days after expiry, unpaid"),
        (denied, Reason.RENEWAL_DENIED, "TOS-REFUSE-1", "renewal denied: ends at expiry"),
    ):
        for service in _batched(queryset, batch_size):

            def terminate(service: Service, reason: str = reason, requirement: str = requirement) -> str:
                from megalayer.services.actions import service_terminate

                service_terminate(service=service, reason=reason, actor=ACTOR, requirement=requirement)
                return ""

            due = service.paid_until + (grace if reason == Reason.OVERDUE else dt.timedelta(0))
            yield service, Planned(service.public_id, Effect.TERMINATE, "", due, why), terminate
