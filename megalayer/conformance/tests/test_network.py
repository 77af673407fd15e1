"""Network tiers, notices and maintenance, end to end (requirements.md, "Services and orders", TOS-NET-*)."""

import datetime as dt
from decimal import Decimal

import pytest

from megalayer.catalog.models import Location, NetworkTier, OsImage, PriceVersion, Product
from megalayer.conformance.tests.steps import audit, customer_api, notices, portal, running_service, staff_api
from megalayer.conftest import hkg_sandbox, make_staff
from megalayer.core import clock
from megalayer.network.models import Prefix
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db


def _standard_product() -> Product:
    """The same plan on the standard tier, with the standard tier's own address pool."""
    location, tier = Location.objects.get(code="hkg"), NetworkTier.objects.get(code="standard")
    product = Product.objects.create(
        code="vps-hkg-standard-2g", name="VPS Standard 2G", kind="vps", location=location, tier=tier,
        cpu_cores=2, memory_gb=2, disk_gb=40, bandwidth_tb=Decimal("1"),
    )  # fmt: skip
    product.os_images.set(OsImage.objects.all())
    PriceVersion.objects.create(
        product=product, cycle="monthly", amount=Decimal("6.00"), currency="USD",
        effective_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), created_at=clock.now(),
    )  # fmt: skip
    Prefix.objects.create(cidr="100.64.0.0/24", family=4, location=location, tier=tier, gateway="100.64.0.1")
    hkg_sandbox(location, tier)
    return product


def test_tos_net_1(alice, vps, django_capture_on_commit_callbacks):
    """Products are offered per network tier at their own price; each tier's services get its own pool's
    addresses."""
    standard = _standard_product()
    api = customer_api(alice)
    by_tier = {p["network_tier"]: p for p in api.get("/catalog/products").json()}
    assert {t: p["prices"][0]["price"]["amount"] for t, p in by_tier.items()} == {
        "premium": "10.00",
        "standard": "6.00",
    }
    assert [p["code"] for p in api.get("/catalog/products?tier=standard").json()] == [standard.code]
    premium_id = running_service(alice, vps, django_capture_on_commit_callbacks, funds="16.00")
    with django_capture_on_commit_callbacks(execute=True):
        standard_id = api.post("/orders", {"product": standard.code}).json()["service"]
    [premium_ip] = [a["address"] for a in api.get(f"/services/{premium_id}/ips").json()]
    [standard_ip] = [a["address"] for a in api.get(f"/services/{standard_id}/ips").json()]
    assert (premium_ip.startswith("198.18."), standard_ip.startswith("100.64.0.")) == (True, True)
    page = portal(alice).get("/account/order/").content.decode()
    assert ("Premium" in page, "Standard" in page) == (True, True)


def _publish(ops, capture, **notice):
    with capture(execute=True):
        published = ops.post("/staff/network-notices", notice)
    assert published.status_code == 201, published.content
    return published.json()


def test_tos_net_2(alice, bob, vps, django_capture_on_commit_callbacks):
    """Staff publish an incident for a location and tier: only the customers with services there are e-mailed,
    once; an update reaches everyone told; no SLA credit follows."""
    running_service(alice, vps, django_capture_on_commit_callbacks)
    _standard_product()
    with_billing(bob)
    ops = staff_api(make_staff("noc@megalayer.test", "operations"))
    incident = _publish(
        ops,
        django_capture_on_commit_callbacks,
        kind="incident",
        title="Packet loss towards China Telecom",
        body="We are rerouting.",
        starts_at=clock.now().isoformat(),
        location="hkg",
        tier="premium",
    )
    assert incident["customers_told"] == 1
    api = customer_api(alice)
    [told] = notices(api, "network_notice")
    assert (told["requirement"], "Packet loss towards China Telecom" in told["subject"]) == ("TOS-NET-2", True)
    assert notices(customer_api(bob), "network_notice") == []
    with django_capture_on_commit_callbacks(execute=True):
        update = ops.post(f"/staff/network-notices/{incident['id']}/updates", {"body": "Resolved.", "resolve": True})
    assert update.status_code == 201
    assert len(notices(api, "network_notice_update")) == 1
    assert api.get("/balance").json()["balances"] == [{"amount": "0.00", "currency": "USD"}]  # no SLA credit
    [event] = audit("network_notice.published", incident["id"])
    assert event.requirement == "TOS-NET-2"


def test_tos_maint_1(alice, vps, django_capture_on_commit_callbacks):
    """Scheduled maintenance is announced with its window and shown on the affected services until it ends."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    ops = staff_api(make_staff("noc@megalayer.test", "operations"))
    starts = clock.now() + dt.timedelta(days=2)
    _publish(
        ops,
        django_capture_on_commit_callbacks,
        kind="maintenance",
        title="Core router upgrade",
        body="Up to 10 minutes of packet loss.",
        starts_at=starts.isoformat(),
        ends_at=(starts + dt.timedelta(hours=2)).isoformat(),
        services=[service_id],
    )
    page = portal(alice).get(f"/account/services/{service_id}/").content.decode()
    assert 'data-testid="network-notice"' in page
    assert f"{starts:%-d %b %Y %H:%M}" in page
    assert "Core router upgrade" in portal(alice).get("/status/").content.decode()
    with clock.travel(starts + dt.timedelta(hours=3)):
        after = portal(alice).get(f"/account/services/{service_id}/").content.decode()
    assert "Core router upgrade" not in after
    [told] = notices(customer_api(alice), "network_notice")
    assert told["requirement"] == "TOS-NET-2"


def test_tos_net_3(alice, vps, django_capture_on_commit_callbacks):
    """No IP replacement: the customer can set reverse DNS on an address but nothing changes it, in the API or
    the client area."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    ip_operations = {(p, m) for p, ops in paths.items() if "/ips" in p or "/rdns" in p for m in ops}
    assert ip_operations == {
        ("/api/v1/services/{service_id}/ips", "get"),
        ("/api/v1/services/{service_id}/rdns", "put"),
    }
    page = portal(alice).get(f"/account/services/{service_id}/").content.decode().lower()
    assert ("change ip" in page, "new ip" in page) == (False, False)
    assert "blacklisted because of your own use is not replaced (terms: disclaimers 8)" in page
