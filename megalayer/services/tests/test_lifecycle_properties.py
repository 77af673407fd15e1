"""Issue 20's property: any sequence of orders, top-ups, waits (with the automation run), renewals, auto-renew
switches, cancellations (end of term and now), withdrawals and refunds keeps the ledger balanced, never charges
a service more than the price version it was ordered at, never bills a period twice, and never moves money out
of a balance except to pay an invoice (TOS-BAL-1/2, TOS-PRICE-1, TOS-REFUND-1).

Plan changes join this machine when they exist (issue 20 continues)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import TestCase
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor
from megalayer.billing.actions import refund_issue
from megalayer.billing.models import Invoice, InvoiceLine, Refund
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import Product
from megalayer.conftest import make_customer, make_staff, seed_catalog
from megalayer.core import clock
from megalayer.core.errors import DomainError
from megalayer.core.money import Money
from megalayer.ledger.models import LedgerAccount, Posting
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.orders.actions import order_place
from megalayer.orders.models import Order
from megalayer.services.actions import service_renew_now, service_set_auto_renew
from megalayer.services.actions.automation import automation_run
from megalayer.services.actions.cancellations import cancellation_request, cancellation_withdraw
from megalayer.services.models import Cancellation, Service
from megalayer.services.periods import service_of_renewal_reference
from megalayer.services.tests.conftest import with_billing

T0 = dt.datetime(2027, 1, 28, 4, 0, tzinfo=dt.UTC)  # month ends and a short February come quickly
amounts = st.decimals(min_value=Decimal("1"), max_value=Decimal("40"), places=2)
picks = st.integers(min_value=0, max_value=5)


class LifecycleMachine(RuleBasedStateMachine):
    counter = 0
    product: Product

    @initialize(money=st.decimals(min_value=Decimal("10"), max_value=Decimal("60"), places=2))
    def open_account(self, money: Decimal) -> None:
        """A customer with money and one service to start from (the rules then do anything in any order)."""
        LifecycleMachine.counter += 1
        self.customer = with_billing(make_customer(f"life{LifecycleMachine.counter}@example.com"))
        self.actor = Actor.for_user(self.customer.owner)
        self.staff = User.objects.filter(email="refunds@megalayer.test").first() or make_staff(
            "refunds@megalayer.test", "billing"
        )
        self.now = T0
        self.keys = 0
        self.top_up(money)
        self.order()

    def _do(self, action: Callable[[], object]) -> None:
        """Run one step at the machine's moment, its on-commit work included; a rule's refusal is an answer."""
        with clock.travel(self.now), TestCase.captureOnCommitCallbacks(execute=True), contextlib.suppress(DomainError):
            action()

    def _service(self, index: int) -> Service | None:
        services = list(Service.objects.filter(customer=self.customer).order_by("pk"))
        return services[index % len(services)] if services else None

    @rule(days=st.integers(min_value=1, max_value=35))
    def wait(self, days: int) -> None:
        self.now += dt.timedelta(days=days)
        self._do(automation_run)

    @rule(amount=amounts)
    def top_up(self, amount: Decimal) -> None:
        self._do(lambda: fund(self.customer, str(amount)))

    @rule()
    def order(self) -> None:
        self._do(
            lambda: order_place(
                customer=self.customer, product=self.product, cycle="monthly", os_image=None, actor=self.actor
            )
        )

    @rule(index=picks, now=st.booleans())
    def cancel(self, index: int, now: bool) -> None:
        service = self._service(index)
        if service is not None:
            self._do(
                lambda: cancellation_request(
                    service=service, actor=self.actor, when="now" if now else "end_of_term", reason="other",
                    confirm=True,
                )
            )  # fmt: skip

    @rule(index=picks)
    def withdraw(self, index: int) -> None:
        service = self._service(index)
        if service is not None:
            self._do(lambda: cancellation_withdraw(service=service, actor=self.actor))

    @rule(index=picks)
    def renew_now(self, index: int) -> None:
        service = self._service(index)
        if service is not None:
            self._do(lambda: service_renew_now(service=service, actor=self.actor))

    @rule(index=picks, on=st.booleans())
    def auto_renew(self, index: int, on: bool) -> None:
        service = self._service(index)
        if service is not None:
            self._do(lambda: service_set_auto_renew(service=service, enabled=on, actor=self.actor))

    @rule(index=picks, share=st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal("1")]))
    def refund(self, index: int, share: Decimal) -> None:
        paid = list(Invoice.objects.filter(customer=self.customer, amount_paid__gt=0).order_by("pk"))
        if not paid:
            return
        invoice = paid[index % len(paid)]
        self.keys += 1
        amount = Money((invoice.amount_paid * share).quantize(Decimal("0.01")), invoice.currency)
        self._do(
            lambda: refund_issue(
                invoice=invoice, amount=amount, reason="provider_outage", note="outage in HKG", destination="balance",
                staff=self.staff, idempotency_key=f"prop-refund-{LifecycleMachine.counter}-{self.keys}",
            )
        )  # fmt: skip

    @invariant()
    def the_ledger_balances(self) -> None:
        assert ledger_verify().ok

    @invariant()
    def the_balance_never_goes_below_zero(self) -> None:
        assert customer_balance(self.customer, "USD").amount >= 0

    @invariant()
    def money_leaves_a_balance_only_to_pay_an_invoice(self) -> None:
        debits = Posting.objects.filter(
            account__kind=LedgerAccount.Kind.CUSTOMER_BALANCE, account__customer=self.customer, amount__lt=0
        )
        assert set(debits.values_list("transaction__source", flat=True)) <= {"invoice_payment"}
        for posting in debits.select_related("transaction"):
            others = posting.transaction.postings.exclude(pk=posting.pk)
            assert set(others.values_list("account__kind", flat=True)) == {LedgerAccount.Kind.RECEIVABLE}

    @invariant()
    def a_service_is_billed_its_ordered_price_once_per_period(self) -> None:
        ordered = dict(
            Order.objects.filter(customer=self.customer, service__isnull=False).values_list(
                "service__public_id", "recurring_amount"
            )
        )
        lines = InvoiceLine.objects.filter(invoice__customer=self.customer, kind="renewal").exclude(
            invoice__status="void"
        )
        periods = [line.reference for line in lines]
        assert len(periods) == len(set(periods))  # one live renewal per (service, period)
        for line in lines:
            assert line.unit_price == ordered[service_of_renewal_reference(line.reference)]
        for order in Order.objects.filter(customer=self.customer).select_related("invoice", "price_version"):
            assert order.invoice is None or order.invoice.subtotal <= order.price_version.amount

    @invariant()
    def an_ended_service_has_nothing_left_to_pay(self) -> None:
        for service in Service.objects.filter(customer=self.customer, status="terminated"):
            open_renewals = InvoiceLine.objects.filter(
                kind="renewal", reference__startswith=f"{service.public_id}:", invoice__status="issued"
            )
            assert not open_renewals.filter(invoice__amount_paid=0).exists()


@pytest.mark.django_db
def test_any_sequence_of_lifecycle_steps_keeps_money_and_prices_right(vps: Product) -> None:
    seed_catalog()
    LifecycleMachine.product = vps
    LifecycleMachine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    LifecycleMachine.TestCase().runTest()
    # The run reached what it is about (so the invariants above were checked against something).
    assert Service.objects.filter(status="terminated").exists()
    assert Cancellation.objects.exists()
    assert Refund.objects.exists()
    assert InvoiceLine.objects.filter(kind="renewal", invoice__status="paid").exists()
