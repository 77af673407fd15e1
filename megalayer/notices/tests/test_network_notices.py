"""Network notices (issue 6, must-show 3): a maintenance for one location reaches exactly the customers with
services there, once each; their service pages show it until the window ends; updates go to the same people."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from megalayer.accounts.models import Customer, User
from megalayer.catalog.models import Location, OsImage, PriceVersion, Product
from megalayer.core import clock
from megalayer.notices.models import NetworkNotice, Notice
from megalayer.provisioning.actions.network_notices import network_notice_publish, network_notice_update
from megalayer.services.models import Service

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 9, 1, 0, 0, tzinfo=dt.UTC)


def _service(customer: Customer, product: Product) -> Service:
    return Service.objects.create(
        customer=customer,
        product=product,
        cycle="monthly",
        recurring_amount=Decimal("10.00"),
        currency="USD",
        anchor_day=1,
        paid_until=T0 + dt.timedelta(days=30),
        created_at=T0,
        status="active",
    )


@pytest.fixture
def sin_vps(vps):
    product = Product.objects.create(
        code="vps-sin-standard",
        name="VPS Singapore",
        kind="vps",
        location=Location.objects.get(code="sin"),
        tier=vps.tier,
        cpu_cores=1,
        memory_gb=1,
        disk_gb=20,
        bandwidth_tb=Decimal("1"),
    )
    product.os_images.set(OsImage.objects.all())
    PriceVersion.objects.create(product=product, cycle="monthly", amount=Decimal("5"), effective_at=T0, created_at=T0)
    return product


def test_a_maintenance_reaches_exactly_the_location_s_customers_once(
    alice, bob, staff, vps, sin_vps, alice_client, django_capture_on_commit_callbacks
):
    carol = Customer.objects.create(owner=User.objects.create_user("carol@example.com", None), created_at=T0)
    alice_sin_1, alice_sin_2 = _service(alice, sin_vps), _service(alice, sin_vps)
    bob_hkg = _service(bob, vps)
    carol_sin_gone = _service(carol, sin_vps)
    Service.objects.filter(pk=carol_sin_gone.pk).update(status="terminated")
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        notice = network_notice_publish(
            staff=staff,
            kind="maintenance",
            title="Core switch upgrade in Singapore",
            body="Up to 10 minutes without network.",
            starts_at=T0 + dt.timedelta(days=2),
            ends_at=T0 + dt.timedelta(days=2, hours=2),
            location=Location.objects.get(code="sin"),
        )
    mails = Notice.objects.filter(kind="network_notice")
    assert [(m.customer, m.recipient) for m in mails] == [(alice, "alice@example.com")]
    assert alice_sin_1.public_id in mails[0].body_text
    assert alice_sin_2.public_id in mails[0].body_text
    assert set(notice.services.all()) == {alice_sin_1, alice_sin_2}
    url = f"/account/services/{alice_sin_1.public_id}/"
    for moment, shown in (
        (T0 + dt.timedelta(hours=1), True),  # announced, window ahead
        (T0 + dt.timedelta(days=2, hours=1), True),  # during the window
        (T0 + dt.timedelta(days=2, hours=3), False),  # over
    ):
        with clock.travel(moment):
            page = alice_client.get(url).content.decode()
        assert ("Core switch upgrade in Singapore" in page) is shown, moment
    bob_page = alice_client.get(f"/account/services/{bob_hkg.public_id}/")
    assert bob_page.status_code == 404
    with clock.travel(T0 + dt.timedelta(days=2, hours=1)), django_capture_on_commit_callbacks(execute=True):
        network_notice_update(notice=notice, staff=staff, body="Running 30 minutes late.")
        network_notice_update(notice=notice, staff=staff, body="Done.", resolve=True)
    updates = Notice.objects.filter(kind="network_notice_update")
    assert [(u.customer, u.subject) for u in updates.order_by("id")] == [
        (alice, "Update: Core switch upgrade in Singapore"),
        (alice, "Resolved: Core switch upgrade in Singapore"),
    ]
    notice.refresh_from_db()
    assert notice.ends_at == T0 + dt.timedelta(days=2, hours=1)  # resolved early: the banner goes now
    with clock.travel(T0 + dt.timedelta(days=2, hours=1, minutes=1)):
        assert "Core switch upgrade" not in alice_client.get(url).content.decode()


def test_the_status_page_is_public_and_lists_current_and_recent(client, staff, vps, alice):
    with clock.travel(T0):
        network_notice_publish(
            staff=staff,
            kind="incident",
            title="Packet loss towards China Telecom",
            body="Investigating.",
            starts_at=T0,
            tier=vps.tier,
        )
        page = client.get("/status/").content.decode()
    assert "Packet loss towards China Telecom" in page
    assert "alice" not in page


def test_a_notice_without_target_or_with_a_bad_window_is_refused(staff, vps):
    from megalayer.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as no_target:
        network_notice_publish(staff=staff, kind="incident", title="x", body="y", starts_at=T0)
    assert no_target.value.field == "location"
    with pytest.raises(InvalidInput) as backwards:
        network_notice_publish(
            staff=staff,
            kind="maintenance",
            title="x",
            body="y",
            starts_at=T0,
            ends_at=T0 - dt.timedelta(hours=1),
            location=Location.objects.get(code="hkg"),
        )
    assert backwards.value.field == "ends_at"
    assert NetworkNotice.objects.count() == 0


def test_staff_publish_and_update_from_the_back_office(staff_client, alice, vps, django_capture_on_commit_callbacks):
    _service(alice, vps)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/backoffice/network/notices/",
            {
                "action": "publish",
                "kind": "maintenance",
                "title": "Power work",
                "body": "Generator test.",
                "starts_at": "2030-01-01T01:00",
                "ends_at": "2030-01-01T03:00",
                "location": "hkg",
            },
        )
    notice = NetworkNotice.objects.get()
    assert notice.starts_at == dt.datetime(2030, 1, 1, 1, 0, tzinfo=dt.UTC)
    assert Notice.objects.filter(kind="network_notice", customer=alice).count() == 1
    page = staff_client.get("/backoffice/network/notices/").content.decode()
    assert "Power work" in page


def test_staff_api_publishes_and_updates_and_customers_cannot(alice, staff, vps, django_capture_on_commit_callbacks):
    import json

    from django.test import Client

    from megalayer.conftest import bearer

    _service(alice, vps)
    body = {
        "kind": "incident",
        "title": "Upstream loss",
        "body": "Investigating.",
        "starts_at": "2030-01-01T00:00:00Z",
        "location": "hkg",
    }
    refused = Client().post(
        "/api/v1/staff/network-notices", json.dumps(body), content_type="application/json", **bearer(alice.owner)
    )
    assert refused.status_code == 403
    headers = bearer(staff, staff=True)
    bad = Client().post(
        "/api/v1/staff/network-notices",
        json.dumps({**body, "location": "xxx"}),
        content_type="application/json",
        **headers,
    )
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "location")
    with django_capture_on_commit_callbacks(execute=True):
        made = Client().post(
            "/api/v1/staff/network-notices", json.dumps(body), content_type="application/json", **headers
        )
    assert (made.status_code, made.json()["customers_told"], made.json()["services"]) == (201, 1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        done = Client().post(
            f"/api/v1/staff/network-notices/{made.json()['id']}/updates",
            json.dumps({"body": "Fixed.", "resolve": True}),
            content_type="application/json",
            **headers,
        )
    assert done.json()["resolved_at"] is not None
    assert Notice.objects.filter(kind="network_notice_update", customer=alice).count() == 1
