"""Issuing many invoices at once with a constant number of queries (the automation's renewal batches).

The same rules as ``actions.invoice_issue`` (gapless numbers, tax per billing
country, bill-to snapshot, ledger postings, audit event, notice), written per
batch: one block of numbers under one lock, one insert per table. Balances are
not applied here; the automation's auto-renew step pays from balances.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from megalayer.accounts.models import Customer
from megalayer.audit.actions import Actor, PendingEvent, audit_record_many
from megalayer.billing.actions.invoices import (
    DUE_AFTER,
    LineData,
    _bill_to,
    _mark_paid_if_settled,
    invoice_entry,
    invoice_event,
)
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import Invoice, InvoiceLine, NumberSequence
from megalayer.billing.tax import TaxDecision, tax_for
from megalayer.core import clock
from megalayer.core.events import events_emit
from megalayer.core.money import Money
from megalayer.ledger.actions import ledger_account, ledger_post_many
from megalayer.ledger.models import LedgerAccount
from megalayer.notices.actions import PendingNotice, notices_create_many
from megalayer.terms.queries import version_number_at


@dataclass(frozen=True, slots=True)
class BulkInvoice:
    customer: Customer  # with owner and billing_profile loaded
    currency: str
    lines: list[LineData]
    pays_from_balance: bool = False  # a top-up pays it (auto-renew on); see invoices_pay_from_topup


def _reserve_numbers(series: str, count: int) -> int:
    NumberSequence.objects.get_or_create(series=series)
    sequence = NumberSequence.objects.select_for_update().get(series=series)
    NumberSequence.objects.filter(pk=sequence.pk).update(next_number=F("next_number") + count)
    return sequence.next_number


def invoices_issue_many(*, drafts: list[BulkInvoice], actor: Actor) -> list[Invoice]:
    if not drafts:
        return []
    now = clock.now()
    taxes: dict[tuple[str, str], TaxDecision] = {}
    with transaction.atomic():
        first = _reserve_numbers("INV", len(drafts))
        invoices: list[Invoice] = []
        amounts: list[tuple[Money, Money]] = []
        for offset, draft in enumerate(drafts):
            bill_to = _bill_to(draft.customer)
            key = (bill_to.get("country", ""), bill_to.get("tax_id", ""))
            if key not in taxes:
                taxes[key] = tax_for(country=key[0], tax_id=key[1])
            decision = taxes[key]
            subtotal = sum(
                ((line.unit_price * line.quantity).quantize() for line in draft.lines), Money.zero(draft.currency)
            )
            tax = (subtotal * decision.rate * Decimal("0.01")).quantize()
            amounts.append((subtotal, tax))
            invoices.append(
                Invoice(
                    customer=draft.customer,
                    status=InvoiceStatus.ISSUED,
                    currency=draft.currency,
                    series="INV",
                    number=first + offset,
                    created_at=now,
                    issued_at=now,
                    due_at=now + DUE_AFTER,
                    bill_to=bill_to,
                    tax=decision.as_snapshot(),
                    subtotal=subtotal.amount,
                    tax_total=tax.amount,
                    total=(subtotal + tax).amount,
                    pays_from_balance=draft.pays_from_balance,
                )
            )
        Invoice.objects.bulk_create(invoices)
        InvoiceLine.objects.bulk_create(
            [line.row(invoice) for invoice, draft in zip(invoices, drafts, strict=True) for line in draft.lines]
        )
        _post_many(invoices, amounts)
        audit_record_many(
            actor=actor,
            terms_version=version_number_at(now),
            events=[
                PendingEvent(
                    "invoice.issue",
                    "invoice",
                    invoice.public_id,
                    "TOS-INVOICE-1",
                    {"number": invoice.display_number, "total": str(invoice.money("total")), "tax": invoice.tax},
                )
                for invoice in invoices
            ],
        )
        notices_create_many(
            [
                PendingNotice(
                    "invoice_issued", invoice.customer, f"invoice_issued:{invoice.public_id}", {"invoice": invoice}
                )
                for invoice in invoices
            ]
        )
        events_emit([invoice_event("invoice.issued", invoice, invoice.customer.public_id) for invoice in invoices])
        for invoice in invoices:
            if invoice.total == 0:
                _mark_paid_if_settled(invoice)  # free renewals settle at once, as a single issue would
    return invoices


def _post_many(invoices: list[Invoice], amounts: list[tuple[Money, Money]]) -> None:
    """Each invoice's ledger transaction (``invoice_entry``, as a single issue records it), in one batch."""
    accounts: dict[tuple[str, str], LedgerAccount] = {}

    def account(kind: str, currency: str) -> LedgerAccount:
        if (kind, currency) not in accounts:
            accounts[(kind, currency)] = ledger_account(kind=kind, currency=currency)
        return accounts[(kind, currency)]

    entries = [invoice_entry(invoice, sub, tax, account) for invoice, (sub, tax) in zip(invoices, amounts, strict=True)]
    ledger_post_many([entry for entry in entries if entry is not None])
