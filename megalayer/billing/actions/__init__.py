"""Every write in billing: invoices, payments, top-ups, credit notes, refunds.

Money moves only through ``megalayer.ledger.actions.ledger_post``; this module
decides what to post and keeps the invoice and payment rows in step, in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F

from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.choices import INVOICE_STATUS, PAYMENT_STATUS, InvoiceStatus, PaymentStatus, RefundDestination
from megalayer.billing.models import CreditNote, Invoice, InvoiceLine, NumberSequence, Payment, Refund
from megalayer.billing.registry import run_paid_handlers, run_refunded_handlers
from megalayer.billing.tax import tax_for
from megalayer.core import clock
from megalayer.core.errors import Forbidden, InvalidInput, NotFound, RuleRefused
from megalayer.core.money import Money
from megalayer.ledger.actions import Entry, Leg, customer_balance_account, ledger_account, ledger_post, ledger_post_many
from megalayer.ledger.models import LedgerAccount
from megalayer.ledger.queries import customer_balance
from megalayer.notices.actions import notice_invoice_issued, notice_invoice_paid, notice_refund_issued

logger = logging.getLogger(__name__)

DUE_AFTER = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class LineData:
    kind: str
    description: str
    unit_price: Money
    quantity: Decimal = Decimal(1)
    reference: str = ""
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None

    def row(self, invoice: Invoice) -> InvoiceLine:
        """The line as stored on ``invoice``: its amount is unit price times quantity, rounded to the cent."""
        return InvoiceLine(
            invoice=invoice,
            kind=self.kind,
            reference=self.reference,
            description=self.description,
            quantity=self.quantity,
            unit_price=self.unit_price.amount,
            amount=(self.unit_price * self.quantity).quantize().amount,
            period_start=self.period_start,
            period_end=self.period_end,
        )


def _take_number(series: str) -> int:
    """The next number of ``series``, under a row lock: a rolled-back issue gives its number back."""
    NumberSequence.objects.get_or_create(series=series)
    sequence = NumberSequence.objects.select_for_update().get(series=series)
    number = sequence.next_number
    NumberSequence.objects.filter(pk=sequence.pk).update(next_number=F("next_number") + 1)
    return number


def invoice_create(*, customer: Customer, lines: list[LineData], currency: str | None = None) -> Invoice:
    """A draft invoice with its lines; prices exclude tax (TOS-TAX-1)."""
    currency = currency or customer.currency
    if not lines:
        raise InvalidInput("An invoice needs at least one line.", field="lines")
    with transaction.atomic():
        invoice = Invoice.objects.create(customer=customer, currency=currency, created_at=clock.now())
        for line in lines:
            if line.unit_price.currency != currency:
                raise InvalidInput("All lines must be in the invoice's currency.", field="lines")
            if line.quantity <= 0:
                raise InvalidInput("Quantity must be positive.", field="quantity")
            line.row(invoice).save(force_insert=True)
    return invoice


def _bill_to(customer: Customer) -> dict[str, Any]:
    profile = getattr(customer, "billing_profile", None)
    if profile is None:
        return {"email": customer.owner.email, "name": customer.owner.full_name}
    return {
        "email": customer.owner.email,
        "name": profile.name,
        "organisation": profile.organisation,
        "address_line1": profile.address_line1,
        "address_line2": profile.address_line2,
        "city": profile.city,
        "postal_code": profile.postal_code,
        "region": profile.region,
        "country": profile.country,
        "tax_id": profile.tax_id,
    }


def invoice_issue(*, invoice: Invoice, actor: Actor, auto_apply: bool | None = None) -> Invoice:
    """Number the invoice, compute its tax, freeze it, post it to the ledger, and apply the balance.

    ``auto_apply`` None follows the customer's setting; False never pays from the
    balance here (a renewal of a service whose auto-renew is off).
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        INVOICE_STATUS.check(invoice.status, InvoiceStatus.ISSUED)
        customer = invoice.customer
        bill_to = _bill_to(customer)
        decision = tax_for(country=bill_to.get("country", ""), tax_id=bill_to.get("tax_id", ""))
        subtotal = sum(
            (Money(line.amount, invoice.currency) for line in invoice.lines.all()), Money.zero(invoice.currency)
        )
        tax = (subtotal * decision.rate * Decimal("0.01")).quantize()
        total = subtotal + tax
        now = clock.now()
        INVOICE_STATUS.move(
            invoice,
            InvoiceStatus.ISSUED,
            number=_take_number(invoice.series),
            issued_at=now,
            due_at=now + DUE_AFTER,
            bill_to=bill_to,
            tax=decision.as_snapshot(),
            subtotal=subtotal.amount,
            tax_total=tax.amount,
            total=total.amount,
        )
        invoice.refresh_from_db()
        _post_invoice(invoice, subtotal, tax)
        audit_record(
            actor=actor,
            action="invoice.issue",
            target_type="invoice",
            target_id=invoice.public_id,
            requirement="TOS-INVOICE-1",
            data={"number": invoice.display_number, "total": str(total), "tax": decision.as_snapshot()},
        )

        if total.is_zero():
            _mark_paid_if_settled(invoice)
        elif customer.auto_apply_balance if auto_apply is None else auto_apply:
            available = customer_balance(customer, invoice.currency)
            if available.amount > 0:
                amount = min(available.amount, invoice.amount_due.amount)
                invoice_pay_from_balance(
                    invoice=invoice,
                    amount=Money(amount, invoice.currency),
                    idempotency_key=f"auto-apply:{invoice.public_id}",
                    actor=Actor.system("auto-apply"),
                )
        invoice.refresh_from_db()
        notice_invoice_issued(invoice=invoice)
    return invoice


def invoice_entry(
    invoice: Invoice, subtotal: Money, tax: Money, account: Callable[[str, str], LedgerAccount] | None = None
) -> Entry | None:
    """The ledger transaction that issuing ``invoice`` records: receivable against revenue and tax payable
    (TOS-INVOICE-1); ``None`` for a free invoice. The one definition, for a single issue and a batch alike
    (``account`` lets a batch reuse the accounts it looked up)."""
    total = subtotal + tax
    if total.is_zero():
        return None
    find = account or (lambda kind, currency: ledger_account(kind=kind, currency=currency))
    legs = [Leg(find(LedgerAccount.Kind.RECEIVABLE, total.currency), -total)]
    if not subtotal.is_zero():
        legs.append(Leg(find(LedgerAccount.Kind.REVENUE, total.currency), subtotal))
    if not tax.is_zero():
        legs.append(Leg(find(LedgerAccount.Kind.TAX_PAYABLE, total.currency), tax))
    return Entry(
        source="invoice_issue",
        idempotency_key=invoice.public_id,
        description=f"Invoice {invoice.display_number}",
        requirement="TOS-INVOICE-1",
        legs=legs,
        customer=invoice.customer,
        reference=invoice.public_id,
    )


def _post_invoice(invoice: Invoice, subtotal: Money, tax: Money) -> None:
    entry = invoice_entry(invoice, subtotal, tax)
    if entry is not None:
        ledger_post_many([entry])


def invoice_pay_from_balance(
    *, invoice: Invoice, idempotency_key: str, actor: Actor, amount: Money | None = None
) -> Payment:
    """Pay all of what is due (or ``amount`` of it) from the customer's balance (TOS-BAL-1).

    Refused with 409 when the invoice is not payable or the balance is short;
    then nothing changes. The same key never pays twice.
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        # Keys are the caller's: scope them to this invoice, so two customers' "pay-1" never meet.
        reference = f"{invoice.public_id}:{idempotency_key}"
        replay = Payment.objects.filter(gateway="balance", gateway_reference=reference).first()
        if replay is not None:
            return replay
        if invoice.status != InvoiceStatus.ISSUED:
            raise RuleRefused(
                f"Invoice {invoice.display_number} is {invoice.get_status_display().lower()}; nothing to pay.",
                rule="invoice-not-payable",
                requirement="TOS-BAL-1",
            )
        due = invoice.amount_due
        pay = due if amount is None else amount
        if pay.currency != invoice.currency or pay.amount <= 0 or due < pay:
            raise InvalidInput(f"Pay between 0 and {due} for this invoice.", field="amount")
        pay = pay.quantize()
        customer = invoice.customer
        result = ledger_post(
            source="invoice_payment",
            idempotency_key=reference,
            description=f"Payment of invoice {invoice.display_number} from balance",
            requirement="TOS-BAL-1",
            legs=[
                Leg(customer_balance_account(customer, pay.currency), -pay),
                Leg(ledger_account(kind=LedgerAccount.Kind.RECEIVABLE, currency=pay.currency), pay),
            ],
            customer=customer,
            reference=invoice.public_id,
        )
        payment = Payment.objects.create(
            customer=customer,
            invoice=invoice,
            gateway="balance",
            gateway_reference=reference,
            applied_at=clock.now(),  # a payment from the balance is its own application
            amount=pay.amount,
            currency=pay.currency,
            status=PaymentStatus.SUCCEEDED,
            created_at=clock.now(),
            completed_at=clock.now(),
            detail={"ledger": result.transaction.public_id},
        )
        # Added in Python under the row lock: SQLite would add binary floats (0.1 + 0.2 > 0.3).
        Invoice.objects.filter(pk=invoice.pk).update(amount_paid=invoice.amount_paid + pay.amount)
        invoice.refresh_from_db()
        _mark_paid_if_settled(invoice)
        audit_record(
            actor=actor,
            action="invoice.pay_from_balance",
            target_type="invoice",
            target_id=invoice.public_id,
            requirement="TOS-BAL-1",
            data={"amount": str(pay), "payment": payment.public_id},
        )
    return payment


def _mark_paid_if_settled(invoice: Invoice) -> None:
    if invoice.amount_due.amount > 0:
        return
    updated = INVOICE_STATUS.claim(
        Invoice.objects.filter(pk=invoice.pk),
        sources=[InvoiceStatus.ISSUED],
        target=InvoiceStatus.PAID,
        paid_at=clock.now(),
    )
    if updated:
        invoice.status = InvoiceStatus.PAID
        run_paid_handlers(invoice)

        notice_invoice_paid(invoice=invoice)


def invoice_void(*, invoice: Invoice, reason: str, actor: Actor) -> Invoice:
    """A draft, or an issued invoice nobody has paid any of, can be voided (its number stays used)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        INVOICE_STATUS.check(invoice.status, InvoiceStatus.VOID)
        if invoice.amount_paid > 0:
            raise RuleRefused(
                "A partly paid invoice is corrected by a credit note, not voided.",
                rule="invoice-partly-paid",
                requirement="TOS-INVOICE-1",
            )
        INVOICE_STATUS.move(invoice, InvoiceStatus.VOID, voided_at=clock.now())
        if invoice.number is not None and invoice.total > 0:
            _credit(invoice, Money(invoice.total, invoice.currency), reason=f"Void: {reason}", actor=actor)
        audit_record(
            actor=actor,
            action="invoice.void",
            target_type="invoice",
            target_id=invoice.public_id,
            requirement="TOS-INVOICE-1",
            data={"reason": reason},
        )
    invoice.refresh_from_db()
    return invoice


def _credit(invoice: Invoice, amount: Money, *, reason: str, actor: Actor, created_by: Any = None) -> CreditNote:
    """A credit note for ``amount`` (tax included), with the tax share in proportion, posted to the ledger."""
    total = invoice.money("total")
    tax = (
        (invoice.money("tax_total") * amount.amount * (1 / total.amount)).quantize()
        if total.amount
        else Money.zero(amount.currency)
    )
    net = amount - tax
    note = CreditNote.objects.create(
        invoice=invoice,
        number=_take_number("CN"),
        amount=amount.amount,
        tax_amount=tax.amount,
        reason=reason,
        created_at=clock.now(),
        created_by=created_by,
    )
    legs = [Leg(ledger_account(kind=LedgerAccount.Kind.RECEIVABLE, currency=amount.currency), amount)]
    if not net.is_zero():
        legs.append(Leg(ledger_account(kind=LedgerAccount.Kind.REVENUE, currency=amount.currency), -net))
    if not tax.is_zero():
        legs.append(Leg(ledger_account(kind=LedgerAccount.Kind.TAX_PAYABLE, currency=amount.currency), -tax))
    ledger_post(
        source="credit_note",
        idempotency_key=note.public_id,
        description=f"Credit note CN-{note.number:06d}",
        requirement="TOS-INVOICE-1",
        legs=legs,
        customer=invoice.customer,
        reference=invoice.public_id,
    )
    # The caller holds the invoice's row lock; added in Python for exact decimals on SQLite too.
    Invoice.objects.filter(pk=invoice.pk).update(amount_credited=invoice.amount_credited + amount.amount)
    return note


def invoice_credit(*, invoice: Invoice, amount: Money, reason: str, actor: Actor, created_by: Any = None) -> CreditNote:
    """Correct an issued, unpaid part of an invoice with a credit note (TOS-INVOICE-1)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status != InvoiceStatus.ISSUED:
            raise RuleRefused(
                "Only an issued, unpaid invoice is credited; a paid one is refunded.",
                rule="invoice-not-creditable",
                requirement="TOS-INVOICE-1",
            )
        if amount.amount <= 0 or invoice.amount_due < amount:
            raise InvalidInput(f"Credit between 0 and {invoice.amount_due}.", field="amount")
        note = _credit(invoice, amount.quantize(), reason=reason, actor=actor, created_by=created_by)
        invoice.refresh_from_db()
        _mark_paid_if_settled(invoice)
        audit_record(
            actor=actor,
            action="invoice.credit",
            target_type="invoice",
            target_id=invoice.public_id,
            requirement="TOS-INVOICE-1",
            data={"amount": str(amount), "credit_note": note.public_id},
        )
    return note


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
    from megalayer.billing.choices import RefundReason

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
            from megalayer.billing.gateways import gateway_named

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
    with transaction.atomic():
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


def tax_rate_save(*, country: str, name: str, rate: Decimal, eu_member: bool, staff: User) -> Any:
    from megalayer.billing.models import TaxRate

    country = country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Use the two-letter ISO country code.", field="country")
    if not Decimal(0) <= rate <= Decimal(100):
        raise InvalidInput("The rate is a percentage between 0 and 100.", field="rate")
    with transaction.atomic():
        tax_rate, _ = TaxRate.objects.update_or_create(
            country=country, defaults={"name": name.strip() or "VAT", "rate": rate, "eu_member": eu_member}
        )
        audit_record(
            actor=Actor.for_user(staff),
            action="tax_rate.save",
            target_type="tax_rate",
            target_id=country,
            requirement="TOS-TAX-1",
            data={"rate": str(rate), "name": name, "eu_member": eu_member},
        )
    return tax_rate
