"""Every write to a service: creation from an order, provisioning, suspension, recovery, termination.

Each status change goes through ``_move``: compare-and-set on the status (the
transition table refuses illegal moves), a history row, and for enforcement
moves an audit event naming the requirement and the terms version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.actions import invoice_pay_from_balance, invoice_void
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import Invoice
from megalayer.catalog.models import CYCLE_MONTHS
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.events import event_emit
from megalayer.core.tasks import enqueue_on_commit
from megalayer.core.transactions import outermost
from megalayer.ledger.errors import InsufficientBalance
from megalayer.network.actions import ip_release
from megalayer.services import hooks
from megalayer.services.actions.renewals import issue_renewal, open_renewal
from megalayer.services.choices import SERVICE_STATUS, CancelStatus, Effect, LineKind, Reason, Status
from megalayer.services.models import LifecycleEffect, Service, ServiceEvent
from megalayer.services.periods import add_months, renewal_reference_prefix
from megalayer.terms.queries import requirement_check


def _move(
    service: Service,
    *,
    to: str,
    actor: Actor,
    requirement: str,
    reason: str | None = None,
    note: str = "",
    **also: Any,
) -> None:
    previous = service.status
    fields = dict(also)
    if reason is not None:
        fields["reason"] = reason
    SERVICE_STATUS.move(service, to, **fields)
    ServiceEvent.objects.create(
        service=service,
        at=clock.now(),
        from_status=previous,
        to_status=to,
        reason=service.reason,
        requirement=requirement,
        note=note[:255],
        actor=actor.label or actor.kind,
    )
    audit_record(
        actor=actor,
        action=f"service.{to}",
        target_type="service",
        target_id=service.public_id,
        requirement=requirement,
        data={"from": previous, "reason": service.reason, "note": note},
    )
    event = _EVENT_OF_MOVE.get((previous, to)) or _EVENT_OF_MOVE.get(("*", to))
    if event:
        event_emit(
            event,
            subject_id=service.public_id,
            customer_id=service.customer.public_id,
            data={"status": to, "reason": service.reason, "requirement": requirement},
        )


# Which status moves are business events for the operator's other systems (core/events.py).
_EVENT_OF_MOVE: dict[tuple[str, str], str] = {
    (Status.PROVISIONING, Status.ACTIVE): "service.activated",
    (Status.SUSPENDED, Status.ACTIVE): "service.recovered",
    ("*", Status.SUSPENDED): "service.suspended",
    ("*", Status.TERMINATED): "service.terminated",
}


def service_create_from_order(*, order: Any, actor: Actor) -> Service:
    """A paid (and accepted) order becomes a service, paid from now for one cycle (TOS-ORDER-1, TOS-TERM-1)."""
    now = clock.now()
    anchor_day = now.astimezone(clock.provider_zone()).day
    with transaction.atomic():
        service = Service.objects.create(
            customer=order.customer,
            product=order.product,
            os_image=order.os_image,
            ssh_keys=order.ssh_keys,
            cloud_init=order.cloud_init,
            cycle=order.cycle,
            add_ons=order.add_ons,
            recurring_amount=order.recurring_amount,
            currency=order.currency,
            anchor_day=anchor_day,
            paid_until=add_months(now, CYCLE_MONTHS[order.cycle], anchor_day),
            created_at=now,
        )
        ServiceEvent.objects.create(
            service=service,
            at=now,
            to_status=Status.PENDING,
            requirement="TOS-ORDER-1",
            note=f"order {order.public_id} paid",
            actor=actor.label or actor.kind,
        )
        from megalayer.services.tasks import service_provision_task

        enqueue_on_commit(service_provision_task, service.pk)
    return service


def service_provision(*, service: Service) -> Service:
    """Paid (and accepted): place the server on a host, give it its addresses and request its creation.

    The service is ``provisioning`` until the create operation ends: active (activation
    notice) when it succeeds, failed (staff alerted) when it cannot. No host with room or
    no free address fails at once, with nothing half-allocated.
    """
    actor = Actor.system("provisioning")
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if service.status != Status.PENDING:
            return service
        _move(service, to=Status.PROVISIONING, actor=actor, requirement="TOS-ORDER-1")
        try:
            with transaction.atomic():
                hooks.server_build.one(service, actor)
        except RuleRefused as refused:
            service_provisioning_failed(service=service, error=refused.detail)
    service.refresh_from_db()
    return service


def service_activate(*, service: Service, password: str | None = None) -> None:
    """The create operation succeeded: active, with the activation notice (TOS-ORDER-1)."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.status != Status.PROVISIONING:
        return
    _move(
        service,
        to=Status.ACTIVE,
        actor=Actor.system("provisioning"),
        requirement="TOS-ORDER-1",
        activated_at=service.activated_at or clock.now(),
    )
    from megalayer.services.notices import notice_service

    notice_service(
        service=service,
        kind="service_activated",
        extra={
            "addresses": list(service.ip_assignments.filter(released_at__isnull=True).values_list("address", flat=True))
        },
    )


def service_provisioning_failed(*, service: Service, error: str) -> None:
    """The server could not be built: ``failed`` until staff retry; the staff alert comes from the operation."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.status != Status.PROVISIONING:
        return
    _move(service, to=Status.FAILED, actor=Actor.system("provisioning"), requirement="TOS-ORDER-1", note=error)


def service_provisioning_retry(*, service: Service, actor: Actor) -> None:
    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.status == Status.FAILED:
        _move(service, to=Status.PROVISIONING, actor=actor, requirement="TOS-ORDER-1", note="staff retry")


def _machine(service: Service, kind: str, actor: Actor, reason: str) -> Any:
    return hooks.machine_request.one(service, kind, actor, reason)


def service_suspend(*, service: Service, reason: str, actor: Actor, requirement: str, note: str = "") -> Service:
    """Suspended now; the server's network is cut (or the machine paused) by a suspend operation."""
    requirement_check(requirement)
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        _move(
            service,
            to=Status.SUSPENDED,
            actor=actor,
            requirement=requirement,
            reason=reason,
            note=note,
            suspended_at=clock.now(),
        )
        _machine(service, "suspend", actor, reason)
        from megalayer.services.notices import notice_service

        notice_service(service=service, kind="service_suspended", requirement=requirement)
    return service


def service_unsuspend(*, service: Service, actor: Actor, requirement: str, note: str = "") -> Service:
    requirement_check(requirement)
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        _move(
            service,
            to=Status.ACTIVE,
            actor=actor,
            requirement=requirement,
            reason=Reason.NONE,
            note=note,
            suspended_at=None,
        )
        _machine(service, "resume", actor, "recovered")
        from megalayer.services.notices import notice_service

        notice_service(service=service, kind="service_recovered", requirement=requirement)
    return service


def service_terminate(*, service: Service, reason: str, actor: Actor, requirement: str, note: str = "") -> Service:
    """Terminating now: the server is destroyed with its disk wiped by a destroy operation, and the service
    becomes terminated (addresses released, termination notice) when that succeeds.

    Open renewal invoices are voided so nothing can be paid for a service that is going.
    """

    requirement_check(requirement)
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        hooks.deletion_guard.call(service)  # TOS-HOLD-1: nothing under a standing legal hold is deleted
        _move(service, to=Status.TERMINATING, actor=actor, requirement=requirement, reason=reason, note=note)
        renewals_void_open(service, actor, f"service {service.public_id} terminated")
        if _machine(service, "destroy", actor, reason) is None:
            service_destroyed(service=service)  # never built: nothing to destroy
    service.refresh_from_db()
    return service


def service_destroyed(*, service: Service) -> None:
    """The server and its data are gone: terminated, addresses released into quarantine, termination notice."""

    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.status != Status.TERMINATING:
        return
    now = clock.now()
    started = service.events.filter(to_status=Status.TERMINATING).order_by("-at", "-id").first()
    _move(
        service,
        to=Status.TERMINATED,
        actor=Actor.system("provisioning"),
        requirement=started.requirement if started else "TOS-TERM-1",
        note="server destroyed, data deleted",
        terminated_at=now,
        data_deleted_at=now,
    )
    for assignment in service.ip_assignments.filter(released_at__isnull=True):
        ip_release(assignment=assignment)
    from megalayer.services.notices import notice_service

    notice_service(
        service=service, kind="service_terminated", requirement=started.requirement if started else "TOS-TERM-1"
    )


def service_renewal_paid(*, service_id: str, period_start: dt.datetime, period_end: dt.datetime) -> None:
    """A renewal was paid: extend from the old expiry (not from today), and recover a suspended service."""
    with transaction.atomic():
        service = Service.objects.select_for_update().get(public_id=service_id)
        if service.paid_until != period_start or service.status in (Status.TERMINATING, Status.TERMINATED):
            return  # already extended for this period, or gone (its invoice was voided)
        Service.objects.filter(pk=service.pk).update(paid_until=period_end)
        service.paid_until = period_end
        # A partly paid renewal (which a cancellation could not void) was completed: the customer keeps the
        # term they paid for and the cancellation moves to its new end.
        service.cancellations.filter(status=CancelStatus.PENDING, effective_at__lt=period_end).update(
            effective_at=period_end
        )
        ServiceEvent.objects.create(
            service=service,
            at=clock.now(),
            from_status=service.status,
            to_status=service.status,
            requirement="TOS-RENEW-1",
            note=f"renewed until {period_end:%Y-%m-%d}",
            actor="billing",
        )
        if service.status == Status.SUSPENDED and service.reason == Reason.OVERDUE:
            service_unsuspend(
                service=service, actor=Actor.system("billing"), requirement="TOS-EXPIRE-1", note="paid before deletion"
            )


def service_set_auto_renew(*, service: Service, enabled: bool, actor: Actor) -> None:
    """The customer's choice (TOS-RENEW-1): with auto-renew on, renewals are paid from the balance when due.

    A renewal-denied or ended service has nothing to renew: the switch is refused."""
    if (
        service.renewal_denied
        or service.cancel_at is not None
        or service.status not in (Status.ACTIVE, Status.SUSPENDED, Status.PROVISIONING)
    ):
        raise RuleRefused("This service will not be renewed.", rule="not-renewable", requirement="TOS-RENEW-1")
    with outermost():
        changed = Service.objects.filter(pk=service.pk).exclude(auto_renew=enabled).update(auto_renew=enabled)
        if changed:
            audit_record(
                actor=actor,
                action="service.auto_renew_on" if enabled else "service.auto_renew_off",
                target_type="service",
                target_id=service.public_id,
                requirement="TOS-RENEW-1",
                data={},
            )
    service.auto_renew = enabled


def renewals_void_open(service: Service, actor: Actor, why: str) -> None:
    """Unpaid renewal invoices of ``service`` are voided, so nothing is paid for a term that will not come."""
    open_renewals = Invoice.objects.filter(
        status=InvoiceStatus.ISSUED,
        lines__kind=LineKind.RENEWAL,
        lines__reference__startswith=renewal_reference_prefix(service.public_id),
    ).distinct()
    for invoice in open_renewals:
        if invoice.amount_paid == 0:
            invoice_void(invoice=invoice, reason=why, actor=actor)


def service_deny_renewal(*, service: Service, staff: User, note: str) -> Service:
    """TOS-REFUSE-1: the service is not renewed and ends at its expiry.

    Its unpaid renewal invoices are voided; the customer is told the end date and the clause (the notice),
    and the service page says "renewal denied". Denying twice, or denying a service that has ended, is
    refused with nothing changed.
    """
    if not note.strip():
        raise InvalidInput("Say why the renewal is denied; it is recorded in the audit log.", field="note")
    actor = Actor.for_user(staff)
    with outermost():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if service.status not in (Status.ACTIVE, Status.SUSPENDED):
            raise RuleRefused(
                "Only a running service's renewal can be denied.", rule="not-renewable", requirement="TOS-REFUSE-1"
            )
        if service.renewal_denied:
            raise RuleRefused(
                "Renewal of this service is already denied.", rule="renewal-already-denied", requirement="TOS-REFUSE-1"
            )
        Service.objects.filter(pk=service.pk).update(renewal_denied=True)
        service.renewal_denied = True
        renewals_void_open(service, actor, f"renewal of {service.public_id} denied")
        audit_record(
            actor=actor,
            action="service.renewal_denied",
            target_type="service",
            target_id=service.public_id,
            requirement="TOS-REFUSE-1",
            data={"note": note, "ends_at": service.paid_until.isoformat()},
        )
        from megalayer.services.notices import notice_service

        notice_service(service=service, kind="renewal_denied")
    return service


def service_renew_now(*, service: Service, actor: Actor) -> Any:
    """Issue (or find) the renewal invoice of the current period now and pay it from the balance if it covers it.

    The renewal invoice is recorded as the period's automation effect, so the
    automation run will not issue a second one.
    """
    if service.status not in (Status.ACTIVE, Status.SUSPENDED) or service.renewal_denied:
        raise RuleRefused("This service cannot be renewed.", rule="not-renewable", requirement="TOS-RENEW-1")
    if service.cancel_at is not None:
        raise RuleRefused(
            "This service is cancelled at the end of its term: withdraw the cancellation to renew it.",
            rule="cancellation-pending",
            requirement="TOS-TERM-1",
        )
    invoice = open_renewal(service)
    if invoice is None:
        try:
            with outermost():
                LifecycleEffect.objects.create(
                    service=service, period_end=service.paid_until, kind=Effect.RENEWAL_INVOICE, at=clock.now()
                )
                reference = issue_renewal(service)
                LifecycleEffect.objects.filter(
                    service=service, period_end=service.paid_until, kind=Effect.RENEWAL_INVOICE
                ).update(reference=reference)
        except IntegrityError:
            pass  # the automation issued it a moment ago
        invoice = open_renewal(service)
    if invoice is not None:
        try:
            invoice_pay_from_balance(
                invoice=invoice, idempotency_key=f"renew-now:{service.paid_until.isoformat()}", actor=actor
            )
        except InsufficientBalance:
            return invoice
    return invoice


def services_migrate_price(*, product: Any, cycle: str, new_amount: Any, staff: User, note: str) -> int:
    """A deliberate staff decision to move running services to a new recurring price (TOS-PRICE-1).

    Prices normally never follow existing services; this is the audited, notified
    exception. It applies from each service's next renewal invoice on.
    """
    from decimal import Decimal

    from megalayer.services.notices import notice_service

    amount = Decimal(new_amount)
    if amount < 0:
        raise InvalidInput("The price cannot be negative.", field="amount")
    if not note.strip():
        raise InvalidInput("Say why: customers are told.", field="note")
    moved = 0
    with outermost():
        services = (
            Service.objects.select_for_update()
            .filter(product=product, cycle=cycle, status__in=[Status.ACTIVE, Status.SUSPENDED])
            .exclude(recurring_amount=amount)
        )
        for service in services:
            old = service.recurring_amount
            Service.objects.filter(pk=service.pk).update(recurring_amount=amount)
            service.recurring_amount = amount
            audit_record(
                actor=Actor.for_user(staff),
                action="service.price_migrate",
                target_type="service",
                target_id=service.public_id,
                requirement="TOS-PRICE-1",
                data={"from": str(old), "to": str(amount), "note": note},
            )
            notice_service(
                service=service,
                kind="price_changed",
                detail=f"{amount}",
                extra={"old_amount": old, "new_amount": amount, "note": note},
            )
            moved += 1
    return moved


def services_erase(*, customer: Customer, old_email: str) -> dict[str, int]:
    """Erase personal data from the customer's services (TOS-PRIVACY-1), called by ``privacy``.

    The services stay (financial and network records point at them); hostnames go, and the history
    names the account instead of the address that acted.
    """
    return {
        "service_hostnames": Service.objects.filter(customer=customer).exclude(hostname="").update(hostname=""),
        "service_event_actors": ServiceEvent.objects.filter(service__customer=customer, actor=old_email).update(
            actor=customer.public_id
        ),
    }
