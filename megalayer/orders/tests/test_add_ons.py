import datetime as dt
from decimal import Decimal

import pytest

from megalayer.audit.actions import Actor
from megalayer.billing.models import Invoice
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import AddOn
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.orders.actions import order_place
from megalayer.orders.models import Order
from megalayer.services.actions.automation import automation_run
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("t")


@pytest.fixture
def extra_ip(vps):
    add_on = AddOn.objects.create(
        code="ipv4", name="Extra IPv4 address", kind="ipv4", monthly_amount=Decimal("3.00"), max_quantity=4
    )
    add_on.products.add(vps)
    return add_on


def test_extra_addresses_are_billed_now_and_at_every_renewal(alice, vps, extra_ip, django_capture_on_commit_callbacks):
    with_billing(alice)
    start = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)
    with clock.travel(start), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "16.00")
        order = order_place(
            customer=alice, product=vps, cycle="monthly", os_image=None, actor=ACTOR, add_ons={"ipv4": 2}
        )
    assert order.invoice is not None
    lines = list(order.invoice.lines.values_list("kind", "quantity", "amount"))
    assert lines == [("order", Decimal("1"), Decimal("10.00")), ("add_on", Decimal("2"), Decimal("6.00"))]
    assert (order.invoice.total, order.recurring_amount) == (Decimal("16.00"), Decimal("16.00"))
    service = Service.objects.get(customer=alice)
    assert service.add_ons == [{"code": "ipv4", "name": "Extra IPv4 address", "quantity": 2, "amount": "3.00"}]
    with clock.travel(start + dt.timedelta(days=24)), django_capture_on_commit_callbacks(execute=True):
        automation_run()
    renewal = Invoice.objects.get(lines__kind="renewal")
    assert renewal.total == Decimal("16.00")
    assert renewal.lines.get().description.endswith(", 2 × Extra IPv4 address")


@pytest.mark.parametrize(("wanted", "message"), [({"ipv4": 5}, "between 1 and 4"), ({"ipv6": 1}, "cannot be ordered")])
def test_add_ons_are_checked(alice, vps, extra_ip, wanted, message):
    with_billing(alice)
    with pytest.raises(InvalidInput, match=message):
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=ACTOR, add_ons=wanted)
    assert Order.objects.count() == 0
