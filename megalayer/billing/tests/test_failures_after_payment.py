"""A failure after money arrived (mail down, a line handler raising) loses no payment; the failed step is retried."""

from __future__ import annotations

from typing import Any

import pytest

from megalayer.billing import registry
from megalayer.billing.actions import (
    LineData,
    invoice_create,
    invoice_issue,
    payment_start,
    payment_succeeded,
    payments_apply_pending,
)
from megalayer.billing.tests.conftest import SYSTEM
from megalayer.core.money import Money
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.notices.actions import notices_deliver_due
from megalayer.notices.models import Notice

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flaky_line_kind() -> Any:
    calls: list[str] = []
    state = {"fail": True}

    def on_paid(line: Any) -> None:
        calls.append(line.reference)
        if state["fail"]:
            raise RuntimeError("provisioning service unavailable")

    registry.register_line_kind("flaky", on_paid=on_paid)
    yield state, calls
    registry._on_paid.pop("flaky", None)


def _invoice_for(customer: Any, kind: str) -> Any:
    customer.auto_apply_balance = False
    customer.save()
    draft = invoice_create(
        customer=customer,
        lines=[LineData(kind=kind, reference="svc_1", description="VPS", unit_price=Money.of("20.00", "USD"))],
    )
    return invoice_issue(invoice=draft, actor=SYSTEM)


def test_a_raising_paid_handler_keeps_the_money_and_is_retried(alice, flaky_line_kind):
    state, calls = flaky_line_kind
    invoice = _invoice_for(alice, "flaky")
    payment = payment_start(customer=alice, amount=Money.of("20.00", "USD"), gateway="manual", invoice=invoice)
    payment = payment_succeeded(payment=payment)
    assert payment.status == "succeeded"
    assert payment.applied_at is None
    invoice.refresh_from_db()
    assert invoice.status == "issued"
    assert customer_balance(alice, "USD") == Money.of("20.00", "USD")  # the money is safe on the balance
    assert calls == ["svc_1"]
    assert payments_apply_pending() == 0  # still failing: nothing applied, nothing lost
    state["fail"] = False
    assert payments_apply_pending() == 1
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.status, payment.applied_at is not None) == ("paid", True)
    assert customer_balance(alice, "USD") == Money.of("0", "USD")
    assert payments_apply_pending() == 0
    assert calls == ["svc_1", "svc_1", "svc_1"]
    assert ledger_verify().ok


def test_mail_down_during_payment_keeps_the_payment_and_sends_the_receipt_later(alice, smtp_server):
    invoice = _invoice_for(alice, "plain")
    smtp_server.stop()
    payment = payment_succeeded(
        payment=payment_start(customer=alice, amount=Money.of("20.00", "USD"), gateway="manual", invoice=invoice)
    )
    invoice.refresh_from_db()
    assert (payment.status, invoice.status) == ("succeeded", "paid")
    receipt = Notice.objects.get(kind="payment_receipt")
    assert (receipt.status, receipt.attempts) == ("queued", 1)
    smtp_server.start()
    Notice.objects.filter(pk=receipt.pk).update(next_attempt_at=receipt.created_at)
    assert notices_deliver_due()["sent"] >= 1
    receipt.refresh_from_db()
    assert receipt.status == "sent"
    assert len([m for m in smtp_server.mailbox.messages if b"is paid" in m.content]) == 1
