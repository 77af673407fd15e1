"""Refunds, only for a reason on the provider's side (TOS-REFUND-1), to the balance or the original payment."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.actions.invoices import _credit
from megalayer.billing.choices import PaymentStatus, RefundDestination, RefundReason
from megalayer.billing.gateways import gateway_named
from megalayer.billing.models import Invoice, Refund
from megalayer.billing.registry import run_refunded_handlers
from megalayer.core import clock
from megalayer.core.errors import Forbidden, InvalidInput, RuleRefused
from megalayer.core.money import Money
from megalayer.ledger.actions import Leg, customer_balance_account, ledger_account, ledger_post
from megalayer.ledger.models import LedgerAccount
from megalayer.notices.actions import notice_refund_issued


def refund_issue(
    *,
    invoice: Invoice,
    amount: Money,
    reason: str,
    note: str,
    destination: str,
    staff: User | None,
    idempotency_key: str,
    automation: Actor | None = None,
) -> Refund:
    """Refund part or all of what was paid on ``invoice`` for a provider-side reason (TOS-REFUND-1).

    Staff only, or ``automation`` when the platform itself failed on its side (a
    reinstall that failed gives its fee back); customers have no refund path. A
    promotional price refunds at most what was actually paid. To the balance: the
    credit lands on the customer's balance. To the original payment: the gateway
    returns it (the balance is untouched, TOS-BAL-1).
    """

    if automation is not None:
        actor = automation
    elif staff is not None and staff.is_staff:
        actor = Actor.for_user(staff)
    else:
        raise Forbidden("Only staff can refund (TOS-REFUND-1).")
    if reason not in RefundReason.values:
        raise InvalidInput("Refunds are only given for reasons on our side.", field="reason")
    if destination not in RefundDestination.values:
        raise InvalidInput("Refund to the balance or to the original payment.", field="destination")
    if not note.strip():
        raise InvalidInput("Say why, for the customer and the audit trail.", field="note")
    if amount.currency != invoice.currency:
        raise InvalidInput(f"This invoice is in {invoice.currency}; refund in that currency.", field="amount.currency")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        # The caller's key, scoped to this invoice: two invoices' "r1" never meet.
        scoped_key = f"{invoice.public_id}:{idempotency_key}"
        existing = Refund.objects.filter(idempotency_key=scoped_key).first()
        if existing is not None:
            return existing
        refunded = sum((r.amount for r in invoice.refunds.all()), Decimal(0))
        refundable = Money(invoice.amount_paid - refunded, invoice.currency)
        if amount.amount <= 0 or refundable < amount:
            raise RuleRefused(
                f"At most {refundable} of this invoice can be refunded: what was paid, less refunds.",
                rule="refund-exceeds-paid",
                requirement="TOS-REFUND-1",
                field="amount",
            )
        amount = amount.quantize()
        payment = None
        if destination == RefundDestination.ORIGINAL:
            payment = invoice.payments.exclude(gateway="balance").filter(status=PaymentStatus.SUCCEEDED).first()
            if payment is None:
                raise RuleRefused(
                    "This invoice was paid from the balance; refund to the balance.",
                    rule="no-original-payment",
                    requirement="TOS-REFUND-1",
                    field="destination",
                )
            # The card gives back at most what it paid: an invoice paid partly from the balance and partly by
            # card refunds the rest to the balance (issue 14, item 10).
            returned = sum((r.amount for r in payment.refunds.all()), Decimal(0))
            returnable = Money(payment.amount - returned, invoice.currency)
            if returnable < amount:
                raise RuleRefused(
                    f"At most {returnable} can go back to the original payment: what it paid, less its refunds.",
                    rule="refund-exceeds-payment",
                    requirement="TOS-REFUND-1",
                    field="amount",
                )
        credit_note = _credit(invoice, amount, reason=f"Refund: {note}", actor=actor, created_by=staff)
        target = (
            customer_balance_account(invoice.customer, amount.currency)
            if payment is None
            else ledger_account(
                kind=LedgerAccount.Kind.GATEWAY_CLEARING, currency=amount.currency, gateway=payment.gateway
            )
        )
        ledger_post(
            source="refund",
            idempotency_key=credit_note.public_id,
            description=f"Refund of {amount} on {invoice.display_number}",
            requirement="TOS-REFUND-1",
            legs=[
                Leg(ledger_account(kind=LedgerAccount.Kind.RECEIVABLE, currency=amount.currency), -amount),
                Leg(target, amount),
            ],
            customer=invoice.customer,
            reference=invoice.public_id,
        )
        refund = Refund.objects.create(
            invoice=invoice,
            payment=payment,
            credit_note=credit_note,
            amount=amount.amount,
            currency=amount.currency,
            reason=reason,
            note=note.strip(),
            destination=destination,
            idempotency_key=scoped_key,
            created_at=clock.now(),
            created_by=staff,
        )
        if payment is not None:
            gateway_named(payment.gateway).refund(payment=payment, amount=amount, refund=refund)
        if refunded + amount.amount >= invoice.amount_paid:
            run_refunded_handlers(invoice)

        notice_refund_issued(refund=refund)
        audit_record(
            actor=actor,
            action="refund.issue",
            target_type="invoice",
            target_id=invoice.public_id,
            requirement="TOS-REFUND-1",
            data={
                "refund": refund.public_id,
                "amount": str(amount),
                "reason": reason,
                "destination": destination,
                "credit_note": credit_note.public_id,
            },
        )
    return refund
