import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from megalayer.audit.actions import Actor
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import Coupon
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.orders.actions import order_place
from megalayer.orders.models import Order
from megalayer.services.actions.automation import automation_run
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("t")


def test_percent_off_the_first_term_then_renewals_at_the_list_price(alice, vps, django_capture_on_commit_callbacks):
    Coupon.objects.create(code="WELCOME30", kind="percent", value=Decimal("30"), duration="first_term")
    with_billing(alice)
    start = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)
    with clock.travel(start), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "7.00")
        order = order_place(
            customer=alice, product=vps, cycle="monthly", os_image=None, actor=ACTOR, coupon="welcome30"
        )
    assert order.invoice is not None
    assert (order.invoice.total, order.invoice.status, order.recurring_amount) == (
        Decimal("7.00"),
        "paid",
        Decimal("10.00"),
    )
    with clock.travel(start + dt.timedelta(days=25)), django_capture_on_commit_callbacks(execute=True):
        automation_run()
    service = Service.objects.get(customer=alice)
    renewal = service.customer.invoices.filter(lines__kind="renewal").get()
    assert renewal.total == Decimal("10.00")


def test_fixed_recurring_coupon_lowers_every_renewal(alice, vps, django_capture_on_commit_callbacks):
    Coupon.objects.create(code="LOYAL", kind="fixed", value=Decimal("2.50"), duration="recurring")
    with_billing(alice)
    fund(alice, "7.50")
    with django_capture_on_commit_callbacks(execute=True):
        order = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=ACTOR, coupon="LOYAL")
    assert order.recurring_amount == Decimal("7.50")
    assert Service.objects.get(customer=alice).recurring_amount == Decimal("7.50")


@pytest.mark.parametrize(
    ("coupon", "message"),
    [
        ({"code": "OLD", "valid_until": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}, "expired"),
        ({"code": "USED", "max_redemptions": 1, "redemptions": 1}, "used up"),
        ({"code": "OFF", "is_active": False}, "does not exist"),
    ],
)
def test_invalid_coupons_are_refused_and_nothing_is_ordered(alice, vps, coupon, message):
    Coupon.objects.create(kind="percent", value=Decimal("10"), **coupon)
    with_billing(alice)
    with pytest.raises(InvalidInput, match=message) as refused:
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=ACTOR, coupon=coupon["code"])
    assert refused.value.field == "coupon"
    assert Order.objects.count() == 0
    assert Coupon.objects.get(code=coupon["code"]).redemptions == coupon.get("redemptions", 0)


def test_the_last_redemption_is_taken_once(alice, bob, vps):
    Coupon.objects.create(code="ONE", kind="percent", value=Decimal("10"), max_redemptions=1)
    with_billing(alice)
    with_billing(bob)
    order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=ACTOR, coupon="ONE")
    with pytest.raises(InvalidInput, match="used up"):
        order_place(customer=bob, product=vps, cycle="monthly", os_image=None, actor=ACTOR, coupon="ONE")
    assert Coupon.objects.get(code="ONE").redemptions == 1


def test_a_coupon_once_per_customer_and_an_unpaid_order_gives_it_back(
    alice, bob, vps, terms_v1, django_capture_on_commit_callbacks
):
    """Issue 14, item 12: a customer uses a once-per-customer coupon once; an order left unpaid is cancelled
    after the Terms' days (invoice voided, audited) and gives its redemption back, to everyone."""
    from megalayer.audit.models import AuditEvent
    from megalayer.conftest import make_customer
    from megalayer.orders.actions import orders_cancel_unpaid

    Coupon.objects.create(
        code="LAUNCH", kind="percent", value=Decimal("50"), duration="first_term", max_redemptions=2, max_per_customer=1
    )
    carol = make_customer("carol@example.com", terms_v1)
    for customer in (alice, bob, carol):
        with_billing(customer)

    def order(customer: Any, coupon: str = "LAUNCH") -> Any:
        return order_place(customer=customer, product=vps, cycle="monthly", os_image=None, actor=ACTOR, coupon=coupon)

    start = dt.datetime(2027, 3, 1, 10, 0, tzinfo=dt.UTC)
    with clock.travel(start):
        unpaid = order(alice)
        assert (unpaid.status, unpaid.invoice.status) == ("awaiting_payment", "issued")
        with pytest.raises(InvalidInput, match=r"^You have already used this coupon\.$"):
            order(alice)
        bobs = order(bob)
        with pytest.raises(InvalidInput, match=r"^This coupon has been used up\.$"):
            order(carol)
        assert Order.objects.count() == 2
    with clock.travel(start + dt.timedelta(days=6, hours=23)):
        assert orders_cancel_unpaid() == 0  # the Terms give it seven days
    with (
        clock.travel(start + dt.timedelta(days=6, hours=23, minutes=30)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        fund(bob, "5.00")  # the top-up pays the open order invoice (auto-apply, issue 17)
    bobs.invoice.refresh_from_db()
    assert bobs.invoice.status == "paid"
    with clock.travel(start + dt.timedelta(days=7, minutes=1)):
        assert orders_cancel_unpaid() == 1  # alice's; bob paid
        assert orders_cancel_unpaid() == 0  # once
        unpaid.refresh_from_db()
        assert (unpaid.status, unpaid.invoice.status) == ("cancelled", "void")
        assert Order.objects.get(pk=bobs.pk).status != "cancelled"
        assert Coupon.objects.get(code="LAUNCH").redemptions == 1
        assert AuditEvent.objects.get(action="order.cancel_unpaid").requirement == "TOS-ORDER-1"
        fund(carol, "5.00")
        with django_capture_on_commit_callbacks(execute=True):
            carols = order(carol)  # the redemption alice's abandoned order held is free again
        assert (carols.invoice.total, carols.invoice.status) == (Decimal("5.00"), "paid")
