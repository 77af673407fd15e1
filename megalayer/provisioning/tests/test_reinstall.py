"""TOS-REINSTALL-1: one free reinstall a calendar month, then the fee of the Terms in force."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from megalayer.audit.actions import Actor
from megalayer.billing.models import Invoice
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import OsImage
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.ledger.errors import InsufficientBalance
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.orders.actions import order_place
from megalayer.provisioning.actions.reinstall import reinstall_failed_on_our_side, reinstall_quota, reinstall_request
from megalayer.provisioning.models import Operation
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing
from megalayer.terms.actions import terms_publish
from megalayer.terms.policy import default_policy_data
from megalayer.testing_parallel import run_in_parallel, skip_unless_threads_share_the_database

CUSTOMER = Actor.system("test customer")
T0 = dt.datetime(2027, 4, 5, 4, 0, tzinfo=dt.UTC)


def _service(customer: Any, vps: Any, capture: Any) -> Service:
    with_billing(customer)
    fund(customer, "10.00")
    with capture(execute=True):
        order_place(customer=customer, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    return Service.objects.get(customer=customer)


def _usd(amount: str) -> Any:
    from megalayer.core.money import Money

    return Money.of(amount, "USD")


@pytest.mark.django_db
def test_first_free_second_charged_at_the_terms_fee_third_refused(alice, vps, django_capture_on_commit_callbacks):
    debian = OsImage.objects.get(code="debian-12")
    with clock.travel(T0):
        service = _service(alice, vps, django_capture_on_commit_callbacks)
        quota = reinstall_quota(service)
        assert (quota.free_left, quota.next_costs) == (1, _usd("0"))
        first = reinstall_request(
            service=service, os_image=debian, confirm_erase=True, actor=CUSTOMER, idempotency_key="r1"
        )
        assert (first.parameters["free"], first.fee_invoice) == (True, None)
        assert reinstall_quota(service).next_costs == _usd("5.00")
        fund(alice, "5.00")
        second = reinstall_request(
            service=service, os_image=debian, confirm_erase=True, actor=CUSTOMER, idempotency_key="r2"
        )
        assert second.fee_invoice is not None
        second.fee_invoice.refresh_from_db()
        assert (second.fee_invoice.total, second.fee_invoice.status) == (Decimal("5.00"), "paid")
        assert customer_balance(alice, "USD") == _usd("0")
        # The provider publishes a new fee; the next charge follows it.
        policy = default_policy_data()
        policy["reinstall"]["fee"] = {"amount": "7.50", "currency": "USD"}
        terms_publish(
            body="v2",
            summary="Reinstall fee 7.50",
            update_date=dt.date(2027, 4, 5),
            effective_at=clock.now(),
            policy=policy,
            actor=CUSTOMER,
        )
        fund(alice, "7.00")  # 0.50 short
        invoices_before = Invoice.objects.count()
        with pytest.raises(InsufficientBalance) as refused:
            reinstall_request(
                service=service, os_image=debian, confirm_erase=True, actor=CUSTOMER, idempotency_key="r3"
            )
        assert refused.value.status == 409
        assert Invoice.objects.count() == invoices_before
        assert Operation.objects.filter(service=service, kind="reinstall").count() == 2
        assert customer_balance(alice, "USD") == _usd("7.00")
        fund(alice, "0.50")
        third = reinstall_request(
            service=service, os_image=debian, confirm_erase=True, actor=CUSTOMER, idempotency_key="r4"
        )
        assert third.fee_invoice is not None
        assert third.fee_invoice.total == Decimal("7.50")
    with clock.travel(dt.datetime(2027, 4, 30, 16, 30, tzinfo=dt.UTC)):  # 1 May 00:30 in Hong Kong: a new month
        assert reinstall_quota(service).free_left == 1
    assert ledger_verify().ok


@pytest.mark.django_db
def test_a_reinstall_must_be_confirmed_and_a_failure_on_our_side_refunds(
    alice, vps, django_capture_on_commit_callbacks
):
    debian = OsImage.objects.get(code="debian-12")
    service = _service(alice, vps, django_capture_on_commit_callbacks)
    with pytest.raises(InvalidInput) as refused:
        reinstall_request(service=service, os_image=debian, confirm_erase=False, actor=CUSTOMER, idempotency_key="x")
    assert refused.value.field == "confirm_erase"
    reinstall_request(service=service, os_image=debian, confirm_erase=True, actor=CUSTOMER, idempotency_key="a")
    fund(alice, "5.00")
    paid = reinstall_request(service=service, os_image=debian, confirm_erase=True, actor=CUSTOMER, idempotency_key="b")
    assert customer_balance(alice, "USD") == _usd("0")
    reinstall_failed_on_our_side(operation=paid, error="image volume missing on host", staff_or_system=CUSTOMER)
    assert customer_balance(alice, "USD") == _usd("5.00")
    assert reinstall_quota(service).free_left == 0  # the free one was used; the failed paid one does not count
    assert ledger_verify().ok


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_requests_consume_the_free_reinstall_once(alice, vps, django_capture_on_commit_callbacks):
    skip_unless_threads_share_the_database()
    debian = OsImage.objects.get(code="debian-12")
    service = _service(alice, vps, django_capture_on_commit_callbacks)

    def request(number: int) -> str:
        operation = reinstall_request(
            service=service, os_image=debian, confirm_erase=True, actor=CUSTOMER, idempotency_key=f"p{number}"
        )
        return "free" if operation.parameters["free"] else "paid"

    results = run_in_parallel([partial(request, n) for n in range(10)])
    outcomes = ["refused" if isinstance(result, InsufficientBalance) else str(result) for result in results]
    assert sorted(outcomes) == ["free"] + ["refused"] * 9
    assert Operation.objects.filter(service=service, kind="reinstall").count() == 1
    assert ledger_verify().ok
