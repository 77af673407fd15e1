"""A customer's services through 40 simulated days (TOS-RENEW-1, TOS-EXPIRE-1, TOS-ORDER-1)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from megalayer.audit.actions import Actor
from megalayer.billing.models import Invoice
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.ledger.queries import ledger_verify
from megalayer.notices.models import Notice
from megalayer.orders.actions import order_place
from megalayer.services.actions.automation import automation_run
from megalayer.services.models import LifecycleEffect, Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)
CUSTOMER = Actor.system("test customer")


def _day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def test_forty_days_of_renewal_expiry_suspension_recovery_and_deletion(alice, vps, django_capture_on_commit_callbacks):
    with_billing(alice)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "20.00")
        kept = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
        lapsed = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    kept_service, lapsed_service = Service.objects.get(order=kept), Service.objects.get(order=lapsed)
    assert (kept_service.status, lapsed_service.status) == ("active", "active")
    expiry = dt.datetime(2027, 2, 10, 10, 0, tzinfo=dt.UTC)
    assert kept_service.paid_until == expiry

    timeline: dict[int, dict[str, int]] = {}
    for day in range(1, 41):
        with clock.travel(_day(day)), django_capture_on_commit_callbacks(execute=True):
            if day == 34:  # paid on day +3 after expiry, before deletion
                renewal = Invoice.objects.get(lines__reference=f"{kept_service.public_id}:{expiry.isoformat()}")
                fund(alice, "10.00")  # the top-up pays the open renewal of the auto-renewed service (issue 17)
                renewal.refresh_from_db()
                assert renewal.status == "paid"
            timeline[day] = automation_run().counts()
    assert timeline[24] == {"renewal_invoice": 2, "reminder": 2}  # day -7: invoice and the 7-day reminder
    assert timeline[28] == {"reminder": 2}
    assert timeline[30] == {"reminder": 2}
    assert timeline[31] == {"expire": 2}
    assert timeline[32] == {"suspend": 2}
    assert timeline[38] == {"terminate": 1}
    assert all(not counts for day, counts in timeline.items() if day not in (24, 28, 30, 31, 32, 38))

    kept_service.refresh_from_db()
    lapsed_service.refresh_from_db()
    assert (kept_service.status, kept_service.reason) == ("active", "")
    assert kept_service.paid_until == dt.datetime(2027, 3, 10, 10, 0, tzinfo=dt.UTC)  # from the old expiry
    assert (lapsed_service.status, lapsed_service.reason) == ("terminated", "overdue")
    assert lapsed_service.data_deleted_at == _day(38)
    open_lapsed = Invoice.objects.get(lines__reference=f"{lapsed_service.public_id}:{expiry.isoformat()}")
    assert open_lapsed.status == "void"

    def kinds(service: Service) -> Counter[str]:
        return Counter(Notice.objects.filter(dedupe_key__contains=service.public_id).values_list("kind", flat=True))

    assert kinds(kept_service) == Counter(
        {"service_activated": 1, "renewal_reminder": 3, "service_suspended": 1, "service_recovered": 1}
    )
    assert kinds(lapsed_service) == Counter(
        {"service_activated": 1, "renewal_reminder": 3, "service_suspended": 1, "service_terminated": 1}
    )
    suspended = Notice.objects.get(kind="service_suspended", dedupe_key__contains=lapsed_service.public_id)
    assert "data will be deleted on 17 February 2027" in suspended.subject
    terminated = Notice.objects.get(kind="service_terminated")
    assert "data has been deleted" in terminated.subject
    assert "The server was destroyed and its data deleted" in terminated.body_text
    assert ledger_verify().ok


def test_a_second_run_and_a_dry_run_do_nothing_twice(alice, vps, django_capture_on_commit_callbacks):
    with_billing(alice)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "10.00")
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    with clock.travel(_day(40)), django_capture_on_commit_callbacks(execute=True):
        preview = automation_run(dry_run=True)
        assert [item.kind for item in preview.items] == ["renewal_invoice", "expire", "suspend", "terminate"]
        assert LifecycleEffect.objects.count() == 0
        assert Invoice.objects.count() == 1
        first = automation_run()
        second = automation_run()
    assert first.counts() == {"renewal_invoice": 1, "expire": 1, "suspend": 1, "terminate": 1}
    assert second.counts() == {}
    assert LifecycleEffect.objects.count() == 4
    assert Invoice.objects.count() == 2


def test_auto_renew_pays_from_the_balance_and_renewal_denied_ends_at_expiry(
    alice, bob, vps, staff, django_capture_on_commit_callbacks
):
    from megalayer.services.actions import service_deny_renewal

    with_billing(alice)
    with_billing(bob)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "20.00")
        fund(bob, "20.00")
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
        order_place(customer=bob, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    denied = Service.objects.get(customer=bob)
    service_deny_renewal(service=denied, staff=staff, note="repeated abuse reports")
    for day in range(20, 33):
        with clock.travel(_day(day)), django_capture_on_commit_callbacks(execute=True):
            automation_run()
    renewed = Service.objects.get(customer=alice)
    denied.refresh_from_db()
    assert renewed.paid_until == dt.datetime(2027, 3, 10, 10, 0, tzinfo=dt.UTC)
    assert renewed.status == "active"
    assert (denied.status, denied.reason, denied.terminated_at) == ("terminated", "renewal_denied", _day(31))
    assert not Invoice.objects.filter(lines__kind="renewal", customer=bob).exists()
    assert Notice.objects.filter(kind="renewal_reminder", customer=bob).count() == 0


def test_price_lock_survives_three_renewals_while_new_orders_pay_the_new_price(
    alice, bob, vps, django_capture_on_commit_callbacks
):
    from megalayer.catalog.models import PriceVersion

    with_billing(alice)
    with_billing(bob)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "100.00")
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
        PriceVersion.objects.create(
            product=vps,
            cycle="monthly",
            amount=Decimal("15.00"),
            currency="USD",
            effective_at=T0 + dt.timedelta(hours=1),
            created_at=T0,
        )
    for day in range(1, 100):
        with clock.travel(_day(day)), django_capture_on_commit_callbacks(execute=True):
            automation_run()
    renewals = Invoice.objects.filter(customer=alice, lines__kind="renewal").order_by("number")
    assert [invoice.total for invoice in renewals] == [Decimal("10.00")] * 3
    assert all(invoice.status == "paid" for invoice in renewals)
    with clock.travel(_day(100)):
        fund(bob, "15.00")
        new_order = order_place(customer=bob, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    assert new_order.recurring_amount == Decimal("15.00")
    assert new_order.invoice.total == Decimal("15.00")  # type: ignore[union-attr]


def test_the_renewal_day_costs_a_constant_number_of_queries_per_batch(vps, django_capture_on_commit_callbacks):
    """The batch path: five times the services, the same number of queries (one batch each time)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from megalayer.conftest import make_customer
    from megalayer.services.actions import service_create_from_order

    def services(count: int, prefix: str) -> None:
        for index in range(count):
            customer = with_billing(make_customer(f"{prefix}{index}@example.com"))
            with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
                order = order_place(customer=customer, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
                assert order.service is None
                service_create_from_order(order=order, actor=CUSTOMER)

    def queries_for_renewal_day(at: dt.datetime) -> int:
        with clock.travel(at), CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks():
            counts = automation_run(batch_size=500).counts()
        assert counts.get("renewal_invoice", 0) > 0
        return len(captured.captured_queries)

    services(4, "small")
    small = queries_for_renewal_day(_day(24))
    services(20, "large")
    # Only the large population is due on its renewal day; the small one is renewed far ahead.
    Service.objects.filter(customer__owner__email__startswith="small").update(
        paid_until=dt.datetime(2028, 1, 10, 10, 0, tzinfo=dt.UTC)
    )
    Service.objects.filter(customer__owner__email__startswith="large").update(
        paid_until=dt.datetime(2027, 3, 20, 10, 0, tzinfo=dt.UTC)
    )
    large = queries_for_renewal_day(dt.datetime(2027, 3, 13, 10, 0, tzinfo=dt.UTC))
    assert large == small
