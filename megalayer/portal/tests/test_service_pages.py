import datetime as dt

import pytest

from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import OsImage
from megalayer.core import clock
from megalayer.orders.models import Order
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db


def test_catalog_filters_by_location_and_tier(alice_client, vps):
    assert "VPS Premium 2G" in alice_client.get("/account/order/?location=hkg&tier=premium").content.decode()
    assert "VPS Premium 2G" not in alice_client.get("/account/order/?tier=international").content.decode()
    page = alice_client.get("/account/order/").content.decode()
    assert "direct lines" in page or "directly connected" in page


def test_ordering_needs_billing_data_then_starts_the_service(
    alice_client, alice, vps, django_capture_on_commit_callbacks
):
    image = OsImage.objects.get(code="debian-12")
    refused = alice_client.post(f"/account/order/{vps.code}/", {"cycle": "monthly", "os_image": image.pk})
    assert "Add your billing details before your first order." in refused.content.decode()
    assert Order.objects.count() == 0
    with_billing(alice)
    eol = OsImage.objects.get(code="centos-7")
    old = alice_client.post(f"/account/order/{vps.code}/", {"cycle": "monthly", "os_image": eol.pk})
    assert "Select a valid choice" in old.content.decode()  # end-of-life images are not offered for new orders
    fund(alice, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        placed = alice_client.post(f"/account/order/{vps.code}/", {"cycle": "monthly", "os_image": image.pk})
    assert placed["Location"] == "/account/services/"
    service = Service.objects.get(customer=alice)
    assert (service.status, service.os_image) == ("active", image)
    detail = alice_client.get(f"/account/services/{service.public_id}/").content.decode()
    assert "Renewal invoice on" in detail
    assert "10.00 USD monthly, kept for every renewal" in detail


def test_auto_renew_toggle_and_renew_now(alice_client, alice, vps, django_capture_on_commit_callbacks):
    with_billing(alice)
    fund(alice, "20.00")
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            f"/account/order/{vps.code}/", {"cycle": "monthly", "os_image": OsImage.objects.get(code="debian-12").pk}
        )
    service = Service.objects.get(customer=alice)
    alice_client.post(f"/account/services/{service.public_id}/", {"action": "auto_renew_off"})
    service.refresh_from_db()
    assert service.auto_renew is False
    before = service.paid_until
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(f"/account/services/{service.public_id}/", {"action": "renew"})
    service.refresh_from_db()
    from megalayer.services.periods import add_months

    assert service.paid_until == add_months(before, 1, service.anchor_day)


def test_another_customers_service_is_404(alice_client, bob, vps, django_capture_on_commit_callbacks):
    with_billing(bob)
    fund(bob, "10.00")
    from megalayer.audit.actions import Actor
    from megalayer.orders.actions import order_place

    with django_capture_on_commit_callbacks(execute=True):
        order_place(customer=bob, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    theirs = Service.objects.get(customer=bob)
    assert alice_client.get(f"/account/services/{theirs.public_id}/").status_code == 404
    assert alice_client.post(f"/account/services/{theirs.public_id}/", {"action": "auto_renew_off"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.auto_renew is True
    assert theirs.paid_until > clock.now() + dt.timedelta(days=27)


def test_the_order_form_offers_the_products_add_ons(alice_client, alice, vps, django_capture_on_commit_callbacks):
    from decimal import Decimal

    from megalayer.catalog.models import AddOn

    AddOn.objects.create(code="ipv4", name="Extra IPv4 address", kind="ipv4", monthly_amount=Decimal("3")).products.add(
        vps
    )
    with_billing(alice)
    assert (
        "Extra IPv4 address (3.00 USD a month each)" in alice_client.get(f"/account/order/{vps.code}/").content.decode()
    )
    fund(alice, "13.00")
    image = OsImage.objects.get(code="debian-12")
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(f"/account/order/{vps.code}/", {"cycle": "monthly", "os_image": image.pk, "add_on_ipv4": "1"})
    assert Service.objects.get(customer=alice).add_ons[0]["quantity"] == 1
