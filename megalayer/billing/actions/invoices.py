"""Invoices: drafted, issued (numbered, taxed, posted), paid from the balance, voided, credited.

Money moves only through ``megalayer.ledger.actions``; the invoice rows and the postings change in one
transaction. The bulk path of the nightly run (``bulk.py``) issues through ``invoice_entry`` here, so both
paths number, tax and post an invoice the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F

from megalayer.accounts.models import Customer
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.choices import INVOICE_STATUS, InvoiceStatus, PaymentStatus
from megalayer.billing.models import CreditNote, Invoice, InvoiceLine, NumberSequence, Payment
from megalayer.billing.registry import run_paid_handlers
from megalayer.billing.tax import tax_for
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.events import Event, event_new, events_emit
from megalayer.core.money import Money
from megalayer.ledger.actions import Entry, Leg, customer_balance_account, ledger_account, ledger_post, ledger_post_many
from megalayer.ledger.models import LedgerAccount
from megalayer.ledger.queries import customer_balance
from megalayer.notices.actions import notice_invoice_issued, notice_invoice_paid

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


def invoice_issue(
    *, invoice: Invoice, actor: Actor, auto_apply: bool | None = None, pays_on_top_up: bool = False
) -> Invoice:
    """Number the invoice, compute its tax, freeze it, post it to the ledger, and apply the balance.

    ``auto_apply`` None follows the customer's setting; False never pays from the
    balance here (a renewal of a service whose auto-renew is off). ``pays_on_top_up``: what the balance
    does not cover now is paid when money next reaches it (an order's invoice, an auto-renewed renewal),
    if balance payment applies at all.
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
        events_emit([invoice_event("invoice.issued", invoice, customer.public_id)])

        pays_from_balance = customer.auto_apply_balance if auto_apply is None else auto_apply
        if pays_from_balance and pays_on_top_up:
            Invoice.objects.filter(pk=invoice.pk).update(pays_from_balance=True)
        if total.is_zero():
            _mark_paid_if_settled(invoice)
        elif pays_from_balance:
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


def invoice_event(kind: str, invoice: Invoice, customer_id: str) -> Event:
    """``invoice.issued`` / ``invoice.paid`` for the operator's webhooks (core/events.py)."""
    return event_new(
        kind,
        subject_id=invoice.public_id,
        customer_id=customer_id,
        data={"number": invoice.display_number, "total": str(invoice.total), "currency": invoice.currency},
    )


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
        events_emit([invoice_event("invoice.paid", invoice, invoice.customer.public_id)])
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


def invoices_pay_from_topup(*, customer: Customer, currency: str, topup: str, actor: Actor) -> list[str]:
    """Money just reached the balance (a top-up): pay the customer's open invoices that pay from the balance
    (``pays_from_balance``: an order's or an auto-renewed renewal's), oldest first, as far as it goes.

    Nothing happens when the customer has turned auto-apply off since. Keyed by the top-up and the invoice,
    so a retried top-up pays nothing twice. Returns the invoices paid (fully or in part)."""
    if not customer.auto_apply_balance:
        return []
    paid: list[str] = []
    open_invoices = Invoice.objects.filter(
        customer=customer, currency=currency, status=InvoiceStatus.ISSUED, pays_from_balance=True
    ).order_by("issued_at", "pk")
    for invoice in open_invoices:
        available = customer_balance(customer, currency)
        if available.amount <= 0:
            break
        amount = min(available.amount, invoice.amount_due.amount)
        if amount <= 0:
            continue
        invoice_pay_from_balance(
            invoice=invoice,
            amount=Money(amount, currency),
            idempotency_key=f"topup:{topup}",
            actor=actor,
        )
        paid.append(invoice.public_id)
    return paid
