from decimal import Decimal

import pytest
from django.core import mail

from megalayer.audit.models import AuditEvent
from megalayer.billing.actions import invoice_credit, invoice_pay_from_balance, invoice_void, refund_issue
from megalayer.billing.models import CreditNote, Invoice, Payment, Refund
from megalayer.billing.tests.conftest import SYSTEM, billed_in, fund, issued_invoice
from megalayer.core.errors import Forbidden, InvalidInput, RuleRefused
from megalayer.core.money import Money
from megalayer.ledger.errors import InsufficientBalance
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.notices.models import Notice

pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def test_numbers_are_consecutive_and_issued_invoices_carry_a_snapshot(alice, rates):
    billed_in(alice, "SG")
    first = issued_invoice(alice, "10.00")
    second = issued_invoice(alice, "20.00")
    assert (first.display_number, second.display_number) == ("INV-000001", "INV-000002")
    assert first.bill_to["country"] == "SG"
    billed_in(alice, "DE")
    first.refresh_from_db()
    assert first.bill_to["country"] == "SG"  # the snapshot does not follow later edits
    assert Notice.objects.filter(kind="invoice_issued").count() == 2


@pytest.mark.parametrize(
    ("country", "tax_id", "prices", "currency", "subtotal", "tax", "total", "reverse"),
    [
        ("SG", "", ["10.00", "5.50"], "USD", "15.50", "1.40", "16.90", False),  # 9% of 15.50 = 1.395 -> 1.40
        ("DE", "", ["100.00"], "EUR", "100.00", "19.00", "119.00", False),  # consumer: German VAT
        ("DE", "DE136695976", ["100.00"], "EUR", "100.00", "0.00", "100.00", True),  # business: reverse charge
        ("DE", "DE123456789", ["100.00"], "EUR", "100.00", "19.00", "119.00", False),  # bad check digit
        ("FR", "DE136695976", ["100.00"], "EUR", "100.00", "20.00", "120.00", False),  # number of another country
        ("JP", "", ["1234", "999"], "JPY", "2233", "223", "2456", False),  # 10% of 2233 = 223.3 -> 223 yen
        ("HK", "", ["7.77"], "USD", "7.77", "0.00", "7.77", False),  # no rate: no tax
    ],
)
def test_tax_is_exclusive_and_computed_per_invoice(
    alice, rates, country, tax_id, prices, currency, subtotal, tax, total, reverse
):
    billed_in(alice, country, tax_id, organisation="ACME GmbH" if tax_id else "")
    invoice = issued_invoice(alice, *prices, currency=currency)
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (Decimal(subtotal), Decimal(tax), Decimal(total))
    assert invoice.tax["reverse_charge"] is reverse
    if tax_id:
        assert invoice.tax["evidence"]["vat_number"] == tax_id
    assert ledger_verify().ok


def test_pay_in_full_from_balance_marks_paid_and_sends_a_receipt(alice, rates, django_capture_on_commit_callbacks):
    invoice = issued_invoice(alice, "25.00")
    fund(alice, "30.00")
    with django_capture_on_commit_callbacks(execute=True):
        payment = invoice_pay_from_balance(invoice=invoice, idempotency_key="k1", actor=SYSTEM)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, payment.amount) == ("paid", Decimal("25.00"), Decimal("25.00"))
    assert customer_balance(alice, "USD") == usd("5.00")
    assert "Receipt: invoice INV-000001 is paid" in [m.subject for m in mail.outbox]
    again = invoice_pay_from_balance(invoice=invoice, idempotency_key="k1", actor=SYSTEM)
    assert again.pk == payment.pk
    assert customer_balance(alice, "USD") == usd("5.00")
    assert ledger_verify().ok


def test_partial_payments_then_the_rest(alice, rates):
    invoice = issued_invoice(alice, "10.00")
    fund(alice, "4.00")  # auto-applied? no: the invoice came first; funds arrive on the balance
    invoice_pay_from_balance(invoice=invoice, amount=usd("4.00"), idempotency_key="p1", actor=SYSTEM)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("issued", usd("6.00"))
    with pytest.raises(InsufficientBalance):
        invoice_pay_from_balance(invoice=invoice, idempotency_key="p2", actor=SYSTEM)
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("4.00")
    fund(alice, "6.00")
    invoice_pay_from_balance(invoice=invoice, idempotency_key="p3", actor=SYSTEM)
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert customer_balance(alice, "USD") == usd("0")


def test_new_invoice_is_paid_from_balance_automatically_unless_turned_off(alice, bob, rates):
    fund(alice, "50.00")
    invoice = issued_invoice(alice, "20.00")
    assert invoice.status == "paid"
    assert customer_balance(alice, "USD") == usd("30.00")
    bob.auto_apply_balance = False
    bob.save()
    fund(bob, "50.00")
    assert issued_invoice(bob, "20.00").status == "issued"
    assert customer_balance(bob, "USD") == usd("50.00")


def test_refused_payments_change_nothing(alice, rates):
    invoice = issued_invoice(alice, "10.00")
    with pytest.raises(InsufficientBalance):
        invoice_pay_from_balance(invoice=invoice, idempotency_key="x", actor=SYSTEM)
    fund(alice, "100.00")
    with pytest.raises(InvalidInput):
        invoice_pay_from_balance(invoice=invoice, amount=usd("10.01"), idempotency_key="y", actor=SYSTEM)
    invoice_void(invoice=invoice, reason="ordered by mistake", actor=SYSTEM)
    with pytest.raises(RuleRefused, match="void"):
        invoice_pay_from_balance(invoice=invoice, idempotency_key="z", actor=SYSTEM)
    assert customer_balance(alice, "USD") == usd("100.00")
    assert Payment.objects.filter(gateway="balance").count() == 0


def test_credit_note_corrects_an_unpaid_invoice(alice, rates):
    billed_in(alice, "SG")
    invoice = issued_invoice(alice, "100.00")  # 109.00 with GST
    note = invoice_credit(invoice=invoice, amount=usd("10.90"), reason="wrong plan", actor=SYSTEM)
    assert (note.number, note.amount, note.tax_amount) == (1, Decimal("10.90"), Decimal("0.90"))
    invoice.refresh_from_db()
    assert invoice.amount_due == usd("98.10")
    assert invoice.total == Decimal("109.00")  # the issued invoice itself never changes
    assert ledger_verify().ok


def test_refund_to_balance_for_a_provider_side_reason(alice, staff, rates, django_capture_on_commit_callbacks):
    fund(alice, "20.00")
    invoice = issued_invoice(alice, "20.00")
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_issue(
            invoice=invoice,
            amount=usd("5.00"),
            reason="provider_outage",
            note="Rack power loss",
            destination="balance",
            staff=staff,
            idempotency_key="r1",
        )
    assert customer_balance(alice, "USD") == usd("5.00")
    assert refund.credit_note.amount == Decimal("5.00")
    event = AuditEvent.objects.get(action="refund.issue")
    assert (event.requirement, event.data["reason"], event.actor_label) == (
        "TOS-REFUND-1",
        "provider_outage",
        "staff@megalayer.test",
    )
    assert any(m.subject == "Refund of 5.00 USD on invoice INV-000001" for m in mail.outbox)
    again = refund_issue(
        invoice=invoice,
        amount=usd("5.00"),
        reason="provider_outage",
        note="Rack power loss",
        destination="balance",
        staff=staff,
        idempotency_key="r1",
    )
    assert again.pk == refund.pk
    assert customer_balance(alice, "USD") == usd("5.00")
    assert ledger_verify().ok


def test_refund_is_capped_at_what_was_paid(alice, staff, rates):
    """A promotional price refunds at what was paid, never the list price."""
    fund(alice, "3.00")
    invoice = issued_invoice(alice, "3.00")  # e.g. a 70% coupon on a 10.00 plan
    with pytest.raises(RuleRefused, match=r"At most 3\.00 USD") as refused:
        refund_issue(
            invoice=invoice,
            amount=usd("10.00"),
            reason="provider_cancelled",
            note="n",
            destination="balance",
            staff=staff,
            idempotency_key="r1",
        )
    assert refused.value.requirement == "TOS-REFUND-1"
    refund_issue(
        invoice=invoice,
        amount=usd("3.00"),
        reason="provider_cancelled",
        note="n",
        destination="balance",
        staff=staff,
        idempotency_key="r2",
    )
    with pytest.raises(RuleRefused):
        refund_issue(
            invoice=invoice,
            amount=usd("0.01"),
            reason="provider_cancelled",
            note="n",
            destination="balance",
            staff=staff,
            idempotency_key="r3",
        )
    assert customer_balance(alice, "USD") == usd("3.00")


def test_refunds_need_staff_and_a_provider_side_reason(alice, staff, rates):
    fund(alice, "10.00")
    invoice = issued_invoice(alice, "10.00")
    with pytest.raises(Forbidden):
        refund_issue(
            invoice=invoice,
            amount=usd("1"),
            reason="provider_outage",
            note="n",
            destination="balance",
            staff=alice.owner,
            idempotency_key="a",
        )
    with pytest.raises(InvalidInput) as refused:
        refund_issue(
            invoice=invoice,
            amount=usd("1"),
            reason="changed_my_mind",
            note="n",
            destination="balance",
            staff=staff,
            idempotency_key="b",
        )
    assert refused.value.field == "reason"
    with pytest.raises(RuleRefused, match="paid from the balance"):
        refund_issue(
            invoice=invoice,
            amount=usd("1"),
            reason="provider_outage",
            note="n",
            destination="original",
            staff=staff,
            idempotency_key="c",
        )
    assert Refund.objects.count() == 0
    assert CreditNote.objects.count() == 0
    assert customer_balance(alice, "USD") == usd("0")


def test_void_keeps_the_number_used(alice, rates):
    invoice = issued_invoice(alice, "10.00")
    invoice_void(invoice=invoice, reason="duplicate", actor=SYSTEM)
    next_invoice = issued_invoice(alice, "10.00")
    assert next_invoice.number == 2
    assert Invoice.objects.get(pk=invoice.pk).status == "void"
    assert ledger_verify().ok


def test_tenths_add_up_exactly_on_every_database(alice, rates):
    """SQLite keeps decimals as binary floats; sums are done in Python under the row lock, so 0.10 + 0.20 is 0.30."""
    invoice = issued_invoice(alice, "0.30")
    fund(alice, "0.30")
    invoice_pay_from_balance(invoice=invoice, amount=usd("0.10"), idempotency_key="a", actor=SYSTEM)
    invoice_pay_from_balance(invoice=invoice, amount=usd("0.20"), idempotency_key="b", actor=SYSTEM)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == ("paid", Decimal("0.30"), usd("0"))
    assert ledger_verify().ok


def test_two_invoices_refunded_with_the_same_key_are_both_refunded(alice, bob, staff, rates):
    """Found by the property test: refund keys were global, so a second invoice's "r1" replayed the first."""
    for customer in (alice, bob):
        fund(customer, "10.00")
        invoice = issued_invoice(customer, "10.00")
        refund_issue(
            invoice=invoice,
            amount=usd("4.00"),
            reason="billing_error",
            note="n",
            destination="balance",
            staff=staff,
            idempotency_key="r1",
        )
    assert customer_balance(alice, "USD") == customer_balance(bob, "USD") == usd("4.00")
    assert Refund.objects.count() == 2
