"""Payments: a gateway's or a bank transfer's money reaches the balance once, then its invoice (TOS-BAL-1)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.actions.invoices import invoice_pay_from_balance, invoices_pay_from_topup
from megalayer.billing.choices import PAYMENT_STATUS, InvoiceStatus, PaymentStatus
from megalayer.billing.models import Invoice, Payment
from megalayer.core import clock
from megalayer.core.errors import Forbidden, InvalidInput, NotFound, RuleRefused
from megalayer.core.events import event_emit
from megalayer.core.money import Money
from megalayer.core.transactions import outermost
from megalayer.ledger.actions import Leg, customer_balance_account, ledger_account, ledger_post
from megalayer.ledger.models import LedgerAccount

logger = logging.getLogger(__name__)


def payment_succeeded(*, payment: Payment, gateway_detail: dict[str, Any] | None = None) -> Payment:
    """A gateway confirmed ``payment``: credit the balance once, then apply it to its invoice if any.

    The credit commits on its own first, so money received is never lost: if
    applying it to the invoice fails (a line handler raising, a lock timeout),
    the money waits on the balance and ``payments_apply_pending`` retries.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status == PaymentStatus.PENDING:
            _credit_balance(payment, gateway_detail or {})
        elif payment.status != PaymentStatus.SUCCEEDED:
            raise RuleRefused("This payment already failed.", rule="payment-not-pending", requirement="TOS-BAL-2")
    payment.refresh_from_db()
    try:
        payment_apply(payment=payment)
        if payment.invoice_id is None and payment.gateway != "balance":
            with transaction.atomic():
                invoices_pay_from_topup(
                    customer=payment.customer,
                    currency=payment.currency,
                    topup=payment.public_id,
                    actor=Actor.system("auto-apply"),
                )
    except Exception:  # logged, not swallowed: the money is safe on the balance and the periodic job retries
        logger.exception("payment.apply_failed", extra={"payment": payment.public_id})
    payment.refresh_from_db()
    return payment


def _credit_balance(payment: Payment, gateway_detail: dict[str, Any]) -> None:
    money = Money(payment.amount, payment.currency)
    ledger_post(
        source="topup",
        idempotency_key=payment.public_id,
        description=f"Payment {payment.public_id} via {payment.gateway}",
        requirement="TOS-BAL-1",
        legs=[
            Leg(
                ledger_account(
                    kind=LedgerAccount.Kind.GATEWAY_CLEARING, currency=money.currency, gateway=payment.gateway
                ),
                -money,
            ),
            Leg(customer_balance_account(payment.customer, money.currency), money),
        ],
        customer=payment.customer,
        reference=payment.public_id,
    )
    PAYMENT_STATUS.move(
        payment,
        PaymentStatus.SUCCEEDED,
        completed_at=clock.now(),
        detail={**payment.detail, **gateway_detail},
        applied_at=clock.now() if payment.invoice_id is None else None,
    )
    audit_record(
        actor=Actor.system(f"gateway {payment.gateway}"),
        action="payment.succeeded",
        target_type="payment",
        target_id=payment.public_id,
        requirement="TOS-BAL-1",
        data={"amount": str(money), "customer": payment.customer.public_id},
    )
    event_emit(
        "payment.received",
        subject_id=payment.public_id,
        customer_id=payment.customer.public_id,
        data={"amount": str(money.amount), "currency": money.currency, "gateway": payment.gateway},
    )


def payment_apply(*, payment: Payment) -> None:
    """Apply a succeeded payment's money (now on the balance) to its invoice, once."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.applied_at is not None or payment.status != PaymentStatus.SUCCEEDED or payment.invoice is None:
            return
        invoice = payment.invoice
        if invoice.status == InvoiceStatus.ISSUED:
            apply = min(invoice.amount_due.amount, payment.amount)
            if apply > 0:
                invoice_pay_from_balance(
                    invoice=invoice,
                    amount=Money(apply, payment.currency),
                    idempotency_key=f"gateway:{payment.public_id}",
                    actor=Actor.system(f"gateway {payment.gateway}"),
                )
        Payment.objects.filter(pk=payment.pk).update(applied_at=clock.now())


def payments_apply_pending() -> int:
    """The periodic retry of ``payment_apply`` for money that reached the balance but not its invoice."""
    pending = (
        Payment.objects.filter(status=PaymentStatus.SUCCEEDED, applied_at__isnull=True, invoice__isnull=False)
        .exclude(gateway="balance")
        .values_list("pk", flat=True)[:500]
    )
    done = 0
    for payment_id in pending:
        try:
            payment_apply(payment=Payment.objects.get(pk=payment_id))
        except Exception:  # logged; one bad payment must not stop the others, and the next run retries it
            logger.exception("payment.apply_failed", extra={"payment": payment_id})
            continue
        done += 1
    return done


def payment_start(*, customer: Customer, amount: Money, gateway: str, invoice: Invoice | None = None) -> Payment:
    """A pending top-up (or payment of ``invoice``) through ``gateway``."""
    if amount.amount <= 0:
        raise InvalidInput("The amount must be positive.", field="amount")
    if amount.quantize() != amount:
        raise InvalidInput(f"Use at most the currency's decimals ({amount.quantize()}).", field="amount")
    if invoice is not None and invoice.customer_id != customer.pk:
        raise NotFound("No such invoice.")
    return Payment.objects.create(
        customer=customer,
        invoice=invoice,
        gateway=gateway,
        amount=amount.amount,
        currency=amount.currency,
        created_at=clock.now(),
    )


def customer_set_auto_apply(*, customer: Customer, enabled: bool) -> None:
    Customer.objects.filter(pk=customer.pk).update(auto_apply_balance=enabled)
    customer.auto_apply_balance = enabled


def manual_payment_record(*, customer: Customer, amount: Money, bank_reference: str, staff: User) -> Payment:
    """Staff record a bank transfer that arrived (TOS-BAL-1); the bank's reference makes it once-only."""
    if not getattr(staff, "is_staff", False):
        raise Forbidden("Only staff record bank transfers.")
    reference = bank_reference.strip()
    if not reference:
        raise InvalidInput("Enter the bank's reference of the transfer.", field="bank_reference")
    existing = Payment.objects.filter(gateway="manual", gateway_reference=reference).first()
    if existing is not None:
        raise RuleRefused(
            f"Transfer {reference} was recorded already ({existing.public_id}).",
            rule="transfer-already-recorded",
            requirement="TOS-BAL-2",
            field="bank_reference",
        )
    with outermost():
        payment = payment_start(customer=customer, amount=amount, gateway="manual")
        Payment.objects.filter(pk=payment.pk).update(gateway_reference=reference)
        audit_record(
            actor=Actor.for_user(staff),
            action="payment.manual_record",
            target_type="payment",
            target_id=payment.public_id,
            requirement="TOS-BAL-1",
            data={"amount": str(amount), "bank_reference": reference, "customer": customer.public_id},
        )
    return payment_succeeded(payment=payment, gateway_detail={"recorded_by": staff.email})
