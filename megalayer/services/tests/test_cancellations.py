"""A customer cancels a service (issue 20): at the end of the term (not renewed, carried out by the automation
run, withdrawable until then) or now (terminated at once, nothing refunded: TOS-REFUND-1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from megalayer.abuse.actions.holds import legal_hold_place
from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.models import Invoice
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.core.errors import DeletionHeld, InvalidInput, RuleRefused
from megalayer.core.money import Money
from megalayer.ledger.models import Posting
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.notices.models import Notice
from megalayer.orders.actions import order_place
from megalayer.services.actions.automation import automation_run
from megalayer.services.actions.cancellations import cancellation_request, cancellation_withdraw
from megalayer.services.models import Cancellation, LifecycleEffect, Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)
EXPIRY = dt.datetime(2027, 2, 10, 10, 0, tzinfo=dt.UTC)
ALICE = Actor(kind="customer", id="1", label="alice@example.com")


def _day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def service(alice, vps, django_capture_on_commit_callbacks) -> Service:
    """Alice's VPS, paid until 10 February 2027, auto-renew on, with $10 left: enough for one renewal."""
    with_billing(alice)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "20.00")
        order = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=ALICE)
    service = Service.objects.get(order=order)
    assert (service.status, service.paid_until, service.auto_renew) == ("active", EXPIRY, True)
    return service


def _run_days(days: range, capture) -> dict[int, dict[str, int]]:
    counts = {}
    for day in days:
        with clock.travel(_day(day)), capture(execute=True):
            counts[day] = automation_run().counts()
    return counts


def test_cancelled_at_the_end_of_the_term_is_not_renewed_and_ends_then(
    alice, service, django_capture_on_commit_callbacks
):
    with clock.travel(_day(5)), django_capture_on_commit_callbacks(execute=True):
        cancellation = cancellation_request(
            service=service, actor=ALICE, when="end_of_term", reason="price", comment="Found a cheaper one"
        )
    service.refresh_from_db()
    assert (cancellation.status, cancellation.effective_at, service.cancel_at) == ("pending", EXPIRY, EXPIRY)
    confirmed = Notice.objects.get(kind="cancellation_requested", customer=alice)
    assert confirmed.subject == f"Cancellation confirmed: {service.public_id} ends on 10 February 2027"
    assert "is not renewed" in confirmed.body_text
    assert "Withdraw the cancellation" in confirmed.body_text
    event = AuditEvent.objects.get(action="service.cancellation_requested")
    assert (event.target_id, event.requirement, event.data["reason"]) == (service.public_id, "TOS-TERM-1", "price")

    balance = customer_balance(alice, "USD")
    timeline = _run_days(range(20, 33), django_capture_on_commit_callbacks)
    # no renewal invoice, no reminder, no auto-renew charge, no suspension: it simply ends at expiry (day 31)
    assert {day: counts for day, counts in timeline.items() if counts} == {31: {"expire": 1, "terminate": 1}}
    service.refresh_from_db()
    cancellation.refresh_from_db()
    assert (service.status, service.reason, service.terminated_at) == ("terminated", "cancelled", _day(31))
    assert service.cancel_at is None
    assert (cancellation.status, cancellation.done_at) == ("done", _day(31))
    assert customer_balance(alice, "USD") == balance == Money(Decimal("10.00"), "USD")
    assert not Invoice.objects.filter(customer=alice, lines__kind="renewal").exists()
    assert not Notice.objects.filter(customer=alice, kind__in=["renewal_reminder", "service_suspended"]).exists()
    ended = Notice.objects.get(kind="service_terminated", customer=alice)
    assert "at your request" in ended.body_text
    assert "nothing is refunded" in ended.body_text
    assert "TOS-TERM-1" in ended.body_text
    terminated = AuditEvent.objects.get(action="service.terminating", target_id=service.public_id)
    assert (terminated.requirement, terminated.actor_label) == ("TOS-TERM-1", "automation")
    assert ledger_verify().ok


def test_a_dry_run_shows_the_cancellation_on_its_day_and_changes_nothing(
    alice, service, django_capture_on_commit_callbacks
):
    with clock.travel(_day(5)), django_capture_on_commit_callbacks(execute=True):
        cancellation_request(service=service, actor=ALICE, when="end_of_term", reason="not_needed")
    with clock.travel(_day(31)):
        preview = automation_run(dry_run=True)
    assert [(item.service, item.kind, item.due) for item in preview.items] == [
        (service.public_id, "expire", EXPIRY),
        (service.public_id, "terminate", EXPIRY),
    ]
    service.refresh_from_db()
    assert (service.status, service.cancel_at, LifecycleEffect.objects.count()) == ("active", EXPIRY, 0)


def test_withdrawn_after_the_renewal_invoice_renews_as_before(alice, service, django_capture_on_commit_callbacks):
    from megalayer.services.actions import service_set_auto_renew

    service_set_auto_renew(service=service, enabled=False, actor=ALICE)
    _run_days(range(24, 25), django_capture_on_commit_callbacks)  # day -7: the renewal invoice is issued
    first = Invoice.objects.get(customer=alice, lines__kind="renewal")
    assert first.status == "issued"
    with clock.travel(_day(25)), django_capture_on_commit_callbacks(execute=True):
        cancellation_request(service=service, actor=ALICE, when="end_of_term", reason="other")
    first.refresh_from_db()
    assert first.status == "void"  # nothing to pay, and auto-renew does not pay it
    with clock.travel(_day(27)), django_capture_on_commit_callbacks(execute=True):
        withdrawn = cancellation_withdraw(service=service, actor=ALICE)
    assert (withdrawn.status, withdrawn.withdrawn_at) == ("withdrawn", _day(27))
    service.refresh_from_db()
    assert service.cancel_at is None
    second = Invoice.objects.get(customer=alice, lines__kind="renewal", status__in=["issued", "paid"])
    effect = LifecycleEffect.objects.get(service=service, kind="renewal_invoice")
    assert effect.reference == second.public_id != first.public_id
    notice = Notice.objects.get(kind="cancellation_withdrawn", customer=alice)
    assert second.public_id in notice.body_text
    service_set_auto_renew(service=service, enabled=True, actor=ALICE)

    _run_days(range(28, 33), django_capture_on_commit_callbacks)
    service.refresh_from_db()
    second.refresh_from_db()
    assert (service.status, service.paid_until) == ("active", dt.datetime(2027, 3, 10, 10, 0, tzinfo=dt.UTC))
    assert second.status == "paid"
    assert customer_balance(alice, "USD") == Money(Decimal("0.00"), "USD")
    assert Cancellation.objects.get().status == "withdrawn"
    assert ledger_verify().ok


def test_cancelled_after_a_paid_renewal_ends_at_the_end_of_the_paid_term(
    alice, service, django_capture_on_commit_callbacks
):
    _run_days(range(24, 25), django_capture_on_commit_callbacks)  # auto-renew pays the renewal from the balance
    renewed_until = dt.datetime(2027, 3, 10, 10, 0, tzinfo=dt.UTC)
    service.refresh_from_db()
    assert service.paid_until == renewed_until
    with clock.travel(_day(25)), django_capture_on_commit_callbacks(execute=True):
        cancellation = cancellation_request(service=service, actor=ALICE, when="end_of_term", reason="other")
    assert cancellation.effective_at == renewed_until  # the customer keeps the term they paid for
    timeline = _run_days(range(26, 60), django_capture_on_commit_callbacks)
    assert {day: counts for day, counts in timeline.items() if counts} == {59: {"expire": 1, "terminate": 1}}
    assert Invoice.objects.filter(customer=alice, lines__kind="renewal").count() == 1


def test_cancelled_now_ends_at_once_and_refunds_nothing(alice, service, django_capture_on_commit_callbacks):
    postings = Posting.objects.count()
    with clock.travel(_day(3)), django_capture_on_commit_callbacks(execute=True):
        cancellation = cancellation_request(service=service, actor=ALICE, when="now", reason="moving", confirm=True)
    service.refresh_from_db()
    assert (cancellation.status, cancellation.effective_at, cancellation.done_at) == ("done", _day(3), _day(3))
    assert (service.status, service.reason, service.terminated_at) == ("terminated", "cancelled", _day(3))
    assert Posting.objects.count() == postings  # no refund, no charge
    assert customer_balance(alice, "USD") == Money(Decimal("10.00"), "USD")
    assert "nothing is refunded" in Notice.objects.get(kind="service_terminated", customer=alice).body_text


def _unchanged(service: Service, audit_events: int) -> None:
    fresh = Service.objects.get(pk=service.pk)
    assert (fresh.status, fresh.cancel_at) == ("active", None)
    assert AuditEvent.objects.count() == audit_events


def test_now_without_confirmation_or_bad_choices_are_refused_with_nothing_written(
    service, django_capture_on_commit_callbacks
):
    events = AuditEvent.objects.count()
    cases: tuple[tuple[dict[str, Any], str], ...] = (
        ({"when": "now", "reason": "price"}, "confirm"),
        ({"when": "tomorrow", "reason": "price"}, "when"),
        ({"when": "end_of_term", "reason": "bored"}, "reason"),
        ({"when": "end_of_term", "reason": "other", "comment": "x" * 2001}, "comment"),
    )
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as refused:
            cancellation_request(service=service, actor=ALICE, **kwargs)
        assert refused.value.field == field
    assert Cancellation.objects.count() == 0
    _unchanged(service, events)


def test_the_now_refusal_says_nothing_is_refunded(service):
    with pytest.raises(InvalidInput) as refused:
        cancellation_request(service=service, actor=ALICE, when="now", reason="price")
    assert "is not refunded" in refused.value.detail


def test_a_second_request_a_withdrawal_of_nothing_and_an_ended_service_are_refused(
    service, django_capture_on_commit_callbacks
):
    with pytest.raises(RuleRefused) as nothing:
        cancellation_withdraw(service=service, actor=ALICE)
    assert nothing.value.type_slug == "no-cancellation"
    with clock.travel(_day(5)), django_capture_on_commit_callbacks(execute=True):
        cancellation_request(service=service, actor=ALICE, when="end_of_term", reason="price")
    events = AuditEvent.objects.count()
    for when in ("end_of_term", "now"):
        with pytest.raises(RuleRefused) as twice:
            cancellation_request(service=service, actor=ALICE, when=when, reason="price", confirm=True)
        assert twice.value.type_slug == "cancellation-pending"
    assert (Cancellation.objects.count(), AuditEvent.objects.count()) == (1, events)
    service.refresh_from_db()
    assert (service.status, service.cancel_at) == ("active", EXPIRY)
    _run_days(range(31, 32), django_capture_on_commit_callbacks)
    with pytest.raises(RuleRefused) as ended:
        cancellation_request(service=service, actor=ALICE, when="now", reason="price", confirm=True)
    assert ended.value.type_slug == "not-cancellable"


def test_auto_renew_and_renew_now_are_refused_while_a_cancellation_is_pending(
    service, django_capture_on_commit_callbacks
):
    from megalayer.services.actions import service_renew_now, service_set_auto_renew

    with clock.travel(_day(5)), django_capture_on_commit_callbacks(execute=True):
        cancellation_request(service=service, actor=ALICE, when="end_of_term", reason="price")
    service.refresh_from_db()
    with pytest.raises(RuleRefused) as renew:
        service_renew_now(service=service, actor=ALICE)
    assert renew.value.type_slug == "cancellation-pending"
    with pytest.raises(RuleRefused):
        service_set_auto_renew(service=service, enabled=False, actor=ALICE)
    assert not Invoice.objects.filter(lines__kind="renewal").exists()


def test_a_legal_hold_stops_a_cancellation_now_with_nothing_written(service, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        legal_hold_place(staff=staff, service=service, reason="Police request 2027/17")
    events = AuditEvent.objects.count()
    with pytest.raises(DeletionHeld):
        cancellation_request(service=service, actor=ALICE, when="now", reason="price", confirm=True)
    assert Cancellation.objects.count() == 0
    _unchanged(service, events)
