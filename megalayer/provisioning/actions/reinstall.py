"""Reinstalls (TOS-REINSTALL-1, TOS-REINSTALL-2): one free a calendar month (provider's zone), then the fee
of the terms version in force, charged from the balance before the reinstall starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.actions import LineData, invoice_create, invoice_issue, invoice_pay_from_balance, refund_issue
from megalayer.billing.models import Invoice
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.money import Money
from megalayer.core.transactions import outermost
from megalayer.provisioning.actions import generate_password, live_server, operation_request
from megalayer.provisioning.actions.hosts import host_driver
from megalayer.provisioning.choices import OPERATION_STATUS, LineKind
from megalayer.provisioning.drivers.base import Capability
from megalayer.provisioning.models import Operation
from megalayer.provisioning.userdata import user_data_check
from megalayer.services.choices import Status
from megalayer.services.models import Service
from megalayer.terms.queries import policy_at, version_number_at


@dataclass(frozen=True, slots=True)
class Quota:
    month: str
    free_per_month: int
    used: int
    fee: Money

    @property
    def free_left(self) -> int:
        return max(self.free_per_month - self.used, 0)

    @property
    def next_costs(self) -> Money:
        return Money.zero(self.fee.currency) if self.free_left else self.fee


def _month() -> str:
    return clock.provider_today().strftime("%Y-%m")


def reinstall_quota(service: Service) -> Quota:
    """Free reinstalls left this calendar month and the fee after that, from the Terms in force."""
    policy = policy_at(clock.now()).reinstall
    month = _month()
    used = Operation.objects.filter(
        service=service,
        kind=Operation.Kind.REINSTALL,
        quota_month=month,
        failed_on_our_side=False,
        parameters__free=True,
    ).count()
    return Quota(month=month, free_per_month=policy.free_per_month, used=used, fee=policy.fee.money())


def reinstall_request(
    *,
    service: Service,
    os_image: Any,
    confirm_erase: bool,
    actor: Actor,
    idempotency_key: str,
    ssh_keys: list[str] | None = None,
    user_data: str | None = None,
) -> Operation:
    """Start a reinstall. The disk is erased, so the customer must confirm; past the free quota the fee is
    paid from the balance first (refused with 409 and nothing changed when the balance is short).

    ``ssh_keys`` (public key lines): the keys the new system gets, and the service keeps for later rebuilds;
    None keeps the ones it was built with. ``user_data`` likewise (cloud-init user data; "" drops it), refused
    on a host whose driver cannot pass it on."""

    if not confirm_erase:
        raise InvalidInput("Confirm that the reinstall erases the whole disk.", field="confirm_erase")
    if user_data is not None:
        user_data = user_data_check(user_data)
    # The customer's key, scoped to this service: another service's "r1" is another request.
    idempotency_key = f"{service.public_id}:{idempotency_key}"
    existing = Operation.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    with outermost():
        service = Service.objects.select_for_update().get(pk=service.pk)  # one quota decision at a time
        if service.status != Status.ACTIVE:
            raise RuleRefused(
                "Only an active server can be reinstalled.", rule="service-not-active", requirement="TOS-REINSTALL-1"
            )
        if os_image is None or not service.product.os_images.filter(pk=os_image.pk, end_of_life=False).exists():
            raise InvalidInput("Choose a system offered for this plan.", field="os_image")
        quota = reinstall_quota(service)
        free = quota.free_left > 0
        invoice = None
        if not free:
            draft = invoice_create(
                customer=service.customer,
                currency=quota.fee.currency,
                lines=[
                    LineData(
                        kind=LineKind.REINSTALL_FEE,
                        reference=idempotency_key,
                        description=f"Reinstall of {service.public_id} beyond the free one of {quota.month}",
                        unit_price=quota.fee,
                    )
                ],
            )
            invoice = invoice_issue(invoice=draft, actor=actor, auto_apply=False)
            # Raises InsufficientBalance (409): the whole transaction, invoice included, is rolled back.
            invoice_pay_from_balance(invoice=invoice, idempotency_key=f"reinstall:{idempotency_key}", actor=actor)

        server = live_server(service)
        cloud_init = service.cloud_init if user_data is None else ({"user_data": user_data} if user_data else {})
        if cloud_init and not host_driver(server.host).supports(Capability.USER_DATA):
            raise InvalidInput("This server's host cannot take cloud-init user data.", field="user_data")
        if ssh_keys is not None:
            Service.objects.filter(pk=service.pk).update(ssh_keys=ssh_keys)
        if user_data is not None:
            Service.objects.filter(pk=service.pk).update(cloud_init=cloud_init)
        keys = service.ssh_keys if ssh_keys is None else ssh_keys
        operation = operation_request(
            service=service,
            kind=Operation.Kind.REINSTALL,
            actor=actor,
            idempotency_key=idempotency_key,
            parameters={"os_image": os_image.code, "free": free, "ssh_keys": list(keys)},
            secrets={"root_password": generate_password(), **cloud_init},
            # A failed reinstall is refunded and given back rather than retried for long (TOS-REINSTALL-1).
            max_attempts=3,
            quota_month=quota.month,
            fee_invoice=invoice,
        )
        audit_record(
            actor=actor,
            action="service.reinstall_requested",
            target_type="service",
            target_id=service.public_id,
            requirement="TOS-REINSTALL-1",
            terms_version=version_number_at(clock.now()),
            data={
                "operation": operation.public_id,
                "free": free,
                "fee": None if free else str(quota.fee),
                "month": quota.month,
            },
        )
    return operation


def reinstall_failed_on_our_side(*, operation: Operation, error: str, staff_or_system: Actor) -> Operation:
    """Our failure: the reinstall does not count against the quota and its fee goes back to the balance."""

    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation.pk)
        if operation.failed_on_our_side:
            return operation
        ended = {"failed_on_our_side": True, "error": error[:2000], "finished_at": clock.now()}
        if operation.is_open:
            OPERATION_STATUS.move(operation, Operation.Status.FAILED, **ended)
        else:  # failed already, or cancelled by staff: it keeps that status
            Operation.objects.filter(pk=operation.pk).update(**ended)
        if operation.fee_invoice_id:
            invoice = Invoice.objects.get(pk=operation.fee_invoice_id)
            if invoice.amount_paid > 0:
                refund_issue(
                    invoice=invoice,
                    amount=Money(invoice.amount_paid, invoice.currency),
                    reason="provider_outage",
                    note=f"Reinstall failed on our side: {error[:200]}",
                    destination="balance",
                    staff=None,
                    idempotency_key=f"reinstall-failed:{operation.public_id}",
                    automation=staff_or_system,
                )
        audit_record(
            actor=staff_or_system,
            action="service.reinstall_failed",
            target_type="service",
            target_id=operation.service.public_id,
            requirement="TOS-REINSTALL-1",
            data={"operation": operation.public_id, "error": error[:500], "refunded": bool(operation.fee_invoice_id)},
        )
    operation.refresh_from_db()
    return operation
