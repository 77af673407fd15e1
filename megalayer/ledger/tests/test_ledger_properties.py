"""Hypothesis state machine over random money operations: every invariant of the book holds after each step."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from megalayer.audit.actions import Actor
from megalayer.billing.actions import (
    LineData,
    invoice_create,
    invoice_credit,
    invoice_issue,
    invoice_pay_from_balance,
    payment_start,
    payment_succeeded,
    refund_issue,
)
from megalayer.billing.models import Invoice
from megalayer.conftest import make_customer
from megalayer.core.errors import DomainError
from megalayer.core.money import Money
from megalayer.ledger.actions import ledger_reverse
from megalayer.ledger.models import LedgerTransaction, Posting
from megalayer.ledger.queries import customer_balance, ledger_verify

SYSTEM = Actor.system("property test")
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("200"), places=2)


class MoneyMachine(RuleBasedStateMachine):
    counter = 0

    @initialize()
    def open_account(self) -> None:
        MoneyMachine.counter += 1
        from megalayer.accounts.models import User

        self.customer = make_customer(f"prop{MoneyMachine.counter}@example.com")
        self.customer.auto_apply_balance = False
        self.customer.save()
        self.staff = User.objects.filter(is_staff=True).first() or User.objects.create_user(
            f"staff{MoneyMachine.counter}@example.com", "x" * 12, is_staff=True
        )
        self.expected = Decimal(0)
        self.seen: dict[int, tuple[int, Decimal]] = {}
        self.invoices: list[Invoice] = []
        self.keys = 0

    def _refresh(self) -> None:
        for invoice in self.invoices:
            invoice.refresh_from_db()

    def _key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    @rule(amount=amounts)
    def top_up(self, amount: Decimal) -> None:
        payment_succeeded(payment=payment_start(customer=self.customer, amount=Money(amount, "USD"), gateway="manual"))
        self.expected += amount

    @rule(amount=amounts)
    def invoice(self, amount: Decimal) -> None:
        draft = invoice_create(
            customer=self.customer, lines=[LineData(kind="p", description="x", unit_price=Money(amount, "USD"))]
        )
        self.invoices.append(invoice_issue(invoice=draft, actor=SYSTEM))

    @rule(data=st.data(), partial=st.booleans())
    def pay(self, data: st.DataObject, partial: bool) -> None:
        if not self.invoices:
            return
        invoice = data.draw(st.sampled_from(self.invoices))
        invoice.refresh_from_db()
        due = invoice.amount_due.amount
        amount = (due / 2).quantize(Decimal("0.01")) if partial and due >= Decimal("0.02") else due
        try:
            invoice_pay_from_balance(
                invoice=invoice, amount=Money(amount, "USD"), idempotency_key=self._key(), actor=SYSTEM
            )
        except DomainError:
            return
        self.expected -= amount

    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        self._refresh()
        paid = [inv for inv in self.invoices if inv.amount_paid > 0]
        if not paid:
            return
        invoice = data.draw(st.sampled_from(paid))
        amount = data.draw(st.decimals(min_value=Decimal("0.01"), max_value=invoice.amount_paid, places=2))
        try:
            refund_issue(
                invoice=invoice,
                amount=Money(amount, "USD"),
                reason="billing_error",
                note="p",
                destination="balance",
                staff=self.staff,
                idempotency_key=self._key(),
            )
        except DomainError:
            return
        self.expected += amount

    @rule(data=st.data())
    def credit(self, data: st.DataObject) -> None:
        self._refresh()
        open_invoices = [inv for inv in self.invoices if inv.status == "issued"]
        if not open_invoices:
            return
        invoice = data.draw(st.sampled_from(open_invoices))
        amount = data.draw(st.decimals(min_value=Decimal("0.01"), max_value=invoice.amount_due.amount, places=2))
        invoice_credit(invoice=invoice, amount=Money(amount, "USD"), reason="p", actor=SYSTEM)

    @rule(data=st.data())
    def reverse_a_top_up(self, data: st.DataObject) -> None:
        top_ups = list(LedgerTransaction.objects.filter(customer=self.customer, source="topup", reversed_by=None))
        if not top_ups:
            return
        original = data.draw(st.sampled_from(top_ups))
        amount = original.postings.get(account__kind="customer_balance").amount
        try:
            ledger_reverse(original=original, reason="p", requirement="TOS-BAL-2")
        except DomainError:
            return  # the money was spent already: a reversal may not overdraw
        self.expected -= amount

    @invariant()
    def book_is_sound(self) -> None:
        if not hasattr(self, "customer"):
            return
        balance = customer_balance(self.customer, "USD").amount
        assert balance == self.expected
        assert balance >= 0
        report = ledger_verify()
        assert report.ok, report.problems
        for posting_id, transaction_id, amount in Posting.objects.values_list("id", "transaction_id", "amount"):
            if posting_id in self.seen:
                assert self.seen[posting_id] == (transaction_id, amount), "a posting changed"
            self.seen[posting_id] = (transaction_id, amount)


@pytest.mark.django_db
def test_random_money_operations_keep_every_invariant() -> None:
    MoneyMachine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=15,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    MoneyMachine.TestCase().runTest()
