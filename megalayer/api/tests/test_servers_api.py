"""The server API: reinstall with quota and fee (must-show 2 through the API), the password shown once,
power, reverse DNS, snapshots, traffic, operations; another customer's server is a 404 everywhere."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from megalayer.billing.models import Invoice
from megalayer.billing.tests.conftest import fund
from megalayer.conftest import bearer
from megalayer.core import clock
from megalayer.ledger.queries import customer_balance
from megalayer.network.models import Prefix
from megalayer.network.queries import holder_at
from megalayer.provisioning.actions.traffic import traffic_sample
from megalayer.provisioning.models import Operation, SandboxMachine, Server
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
JSON = "application/json"
T0 = dt.datetime(2027, 6, 2, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def alice_server(alice, vps, django_capture_on_commit_callbacks):
    with_billing(alice)
    fund(alice, "10.00")
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        Client().post(
            "/api/v1/orders",
            json.dumps({"product": vps.code, "os_image": "debian-12"}),
            content_type=JSON,
            **bearer(alice.owner),
        )
    return Service.objects.get(customer=alice)


def _post(url: str, body: Any, headers: Any, capture: Any, key: str | None = None) -> Any:
    extra: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    with capture(execute=True):
        return Client().post(url, json.dumps(body), content_type=JSON, **headers, **extra)


def test_reinstall_quota_fee_refusal_and_password_once(alice, alice_server, django_capture_on_commit_callbacks):
    headers = bearer(alice.owner)
    base = f"/api/v1/services/{alice_server.public_id}"
    cap = django_capture_on_commit_callbacks
    with clock.travel(T0 + dt.timedelta(hours=1)):
        quota = Client().get(f"{base}/reinstall-quota", **headers).json()
        assert quota == {
            "month": "2027-06",
            "free_per_month": 1,
            "free_left": 1,
            "fee": {"amount": "5.00", "currency": "USD"},
            "next_reinstall_costs": {"amount": "0.00", "currency": "USD"},
        }
        unconfirmed = _post(f"{base}/reinstall", {"os_image": "ubuntu-24-04", "confirm_erase": False}, headers, cap)
        assert (unconfirmed.status_code, unconfirmed.json()["errors"][0]["field"]) == (422, "confirm_erase")
        disk_before = Server.objects.get(service=alice_server).disk_id
        first = _post(f"{base}/reinstall", {"os_image": "ubuntu-24-04", "confirm_erase": True}, headers, cap, "r1")
        assert first.status_code == 202
        op = Client().get(f"{base}/operations/{first.json()['id']}", **headers).json()
        assert (op["kind"], op["status"], op["attempts"]) == ("reinstall", "succeeded", 1)
        server = Server.objects.get(service=alice_server)
        assert (server.image, server.disk_id != disk_before) == ("ubuntu-24-04", True)
        assert Client().get(f"{base}/server", **headers).json()["new_password_waiting"] is True
        shown = _post(f"{base}/password", {}, headers, cap)
        assert shown.status_code == 200
        assert shown.json()["user"] == "root"
        assert len(shown.json()["password"]) == 20
        again = _post(f"{base}/password", {}, headers, cap)
        assert (again.status_code, again.json()["type"]) == (404, "/problems/not-found")
        # second: the fee from the balance (10.00 order paid, 0 left → top up 5)
        fund(alice, "5.00")
        second = _post(f"{base}/reinstall", {"os_image": "debian-12", "confirm_erase": True}, headers, cap, "r2")
        assert second.status_code == 202
        assert customer_balance(alice, "USD").amount == Decimal("0.00")
        invoices = Invoice.objects.count()
        third = _post(f"{base}/reinstall", {"os_image": "debian-12", "confirm_erase": True}, headers, cap, "r3")
        assert third.status_code == 409
        assert third.headers["Content-Type"] == "application/problem+json"
        assert Invoice.objects.count() == invoices
        assert Operation.objects.filter(service=alice_server, kind="reinstall").count() == 2
        assert Server.objects.get(service=alice_server).image == "debian-12"


def test_power_rdns_snapshots_traffic_and_operations(alice, alice_server, django_capture_on_commit_callbacks):
    headers = bearer(alice.owner)
    base = f"/api/v1/services/{alice_server.public_id}"
    cap = django_capture_on_commit_callbacks
    with clock.travel(T0 + dt.timedelta(minutes=5)):
        server = Server.objects.get(service=alice_server)
        off = _post(f"{base}/power", {"action": "off"}, headers, cap)
        assert (off.status_code, off.json()["kind"], off.json()["status"]) == (202, "power_off", "pending")
        watched = Client().get(f"{base}/operations/{off.json()['id']}", **headers).json()
        assert (watched["status"], watched["attempts"]) == ("succeeded", 1)
        assert SandboxMachine.objects.get(name=server.name).power == "stopped"
        assert Client().get(f"{base}/server", **headers).json()["power"] == "stopped"
        bad = _post(f"{base}/power", {"action": "explode"}, headers, cap)
        assert bad.status_code == 422
        _post(f"{base}/power", {"action": "on"}, headers, cap)
        assert SandboxMachine.objects.get(name=server.name).power == "running"
        ips = Client().get(f"{base}/ips", **headers).json()
        assert ips == [{"address": "198.18.0.2", "family": 4, "reverse_dns": "", "prefix_length": None}]
        with cap(execute=True):
            named = Client().put(
                f"{base}/rdns",
                json.dumps({"address": "198.18.0.2", "hostname": "mail.alice.example"}),
                content_type=JSON,
                **headers,
            )
        assert named.json() == {
            "address": "198.18.0.2",
            "family": 4,
            "reverse_dns": "mail.alice.example",
            "prefix_length": None,
        }
        invalid = Client().put(
            f"{base}/rdns",
            json.dumps({"address": "198.18.0.2", "hostname": "not a name"}),
            content_type=JSON,
            **headers,
        )
        assert (invalid.status_code, invalid.json()["errors"][0]["field"]) == (422, "hostname")
        snap = _post(f"{base}/snapshots", {"name": "before-upgrade"}, headers, cap)
        assert (snap.status_code, snap.json()["status"]) == (202, "pending")
        assert [s["name"] for s in Client().get(f"{base}/server", **headers).json()["snapshots"]] == ["before-upgrade"]
        duplicate = _post(f"{base}/snapshots", {"name": "before-upgrade"}, headers, cap)
        assert duplicate.status_code == 422
        restored = _post(f"{base}/snapshots/before-upgrade/restore", {}, headers, cap)
        assert restored.json()["kind"] == "snapshot_restore"
        with cap(execute=True):
            deleted = Client().delete(f"{base}/snapshots/before-upgrade", **headers)
        assert deleted.status_code == 202
        assert Client().get(f"{base}/server", **headers).json()["snapshots"] == []
        kinds = [o["kind"] for o in Client().get(f"{base}/operations", **headers).json()]
    with clock.travel(T0 + dt.timedelta(hours=1)):
        traffic_sample()
    with clock.travel(T0 + dt.timedelta(hours=2)):
        traffic_sample()
        traffic = Client().get(f"{base}/traffic", **headers).json()
    assert traffic["month"] == "2027-06"
    assert traffic["rx_bytes"] == 3600 * 180_000  # one hour between the two samples, at the sandbox's rate
    assert [d["day"] for d in traffic["days"]] == ["2027-06-01", "2027-06-02"]
    assert kinds == ["snapshot_delete", "snapshot_restore", "snapshot_create", "power_on", "power_off", "create"]


def test_traffic_across_a_three_day_sampling_gap_over_a_month_boundary(alice, alice_server):
    """Issue 13: a day's traffic is the counter growth attributed to it, whatever the gaps. The sampler
    stopped for three days across the end of February 2028 (a leap year): the growth of the gap is spread
    over the days it covers in proportion to time, with the last February sample as the baseline, and
    those days are marked estimated; a counter reset still counts from zero."""
    from megalayer.provisioning.models import TrafficSample

    hkt = dt.timezone(dt.timedelta(hours=8))
    server = Server.objects.get(service=alice_server)
    TrafficSample.objects.filter(server=server).delete()

    def sample(at: dt.datetime, rx: int, tx: int) -> None:
        TrafficSample.objects.create(server=server, at=at, rx_bytes=rx, tx_bytes=tx)

    sample(dt.datetime(2028, 2, 27, 9, 0, tzinfo=hkt), 10, 5)  # older than the baseline: not read
    sample(dt.datetime(2028, 2, 28, 18, 0, tzinfo=hkt), 1_000, 500)  # the baseline: last sample before March
    rx, tx = 1_000 + 7_200_000_001, 500 + 3_600_000_001  # 72 hours later, the sampler is back
    sample(dt.datetime(2028, 3, 2, 18, 0, tzinfo=hkt), rx, tx)
    at = dt.datetime(2028, 3, 2, 18, 0, tzinfo=hkt)
    while at < dt.datetime(2028, 3, 4, 11, 0, tzinfo=hkt):  # then hourly, 1,000 in and 500 out an hour
        at += dt.timedelta(hours=1)
        reset = at == dt.datetime(2028, 3, 3, 10, 0, tzinfo=hkt)  # the interface was recreated
        rx, tx = (5_000, 2_500) if reset else (rx + 1_000, tx + 500)
        sample(at, rx, tx)

    with clock.travel(dt.datetime(2028, 3, 4, 11, 30, tzinfo=hkt)):
        traffic = Client().get(f"/api/v1/services/{alice_server.public_id}/traffic", **bearer(alice.owner)).json()
    # The gap's 72 hours: 6 in February, 24 on 1 March, 18 on 2 March; cumulative shares, rounded down.
    assert traffic == {
        "month": "2028-03",
        "days": [
            {"day": "2028-03-01", "rx_bytes": 2_400_000_000, "tx_bytes": 1_200_000_000, "estimated": True},
            {"day": "2028-03-02", "rx_bytes": 1_800_006_001, "tx_bytes": 900_003_001, "estimated": True},
            {"day": "2028-03-03", "rx_bytes": 28_000, "tx_bytes": 14_000, "estimated": False},
            {"day": "2028-03-04", "rx_bytes": 11_000, "tx_bytes": 5_500, "estimated": False},
        ],
        "rx_bytes": 4_200_045_001,
        "tx_bytes": 2_100_022_501,
        # Issue 18: against the plan's 1 TB, counted in and out; 83.5 hours into March at this rate, the
        # remaining 660.5 hours bring 6,300,067,502 * 660.5 / 83.5 more bytes.
        "allowance_bytes": 10**12,
        "used_bytes": 6_300_067_502,
        "forecast_bytes": 6_300_067_502 + int(6_300_067_502 * (660.5 / 83.5)),
        "past_allowance": "throttle",
        "bandwidth_limit_mbps": None,
    }


def test_another_customers_server_is_invisible(alice, bob, alice_server, django_capture_on_commit_callbacks):
    headers = bearer(bob.owner)
    base = f"/api/v1/services/{alice_server.public_id}"
    cap = django_capture_on_commit_callbacks
    operation = Operation.objects.filter(service=alice_server).get()
    for url in ("server", "ips", "reinstall-quota", "traffic", "operations", f"operations/{operation.public_id}"):
        response = Client().get(f"{base}/{url}", **headers)
        assert response.status_code == 404, url
    for url, body in (
        ("power", {"action": "off"}),
        ("reinstall", {"os_image": "debian-12", "confirm_erase": True}),
        ("password", {}),
        ("snapshots", {"name": "x"}),
    ):
        assert _post(f"{base}/{url}", body, headers, cap).status_code == 404, url
    assert (
        Client()
        .put(
            f"{base}/rdns",
            json.dumps({"address": "198.18.0.2", "hostname": "evil.example"}),
            content_type=JSON,
            **headers,
        )
        .status_code
        == 404
    )
    assert list(Operation.objects.filter(service=alice_server).values_list("kind", flat=True)) == ["create"]
    assert SandboxMachine.objects.get().power == "running"


def test_read_only_tokens_cannot_act(alice, alice_server, django_capture_on_commit_callbacks):
    headers = bearer(alice.owner, scope="read")
    base = f"/api/v1/services/{alice_server.public_id}"
    assert Client().get(f"{base}/server", **headers).status_code == 200
    refused = _post(f"{base}/power", {"action": "off"}, headers, django_capture_on_commit_callbacks)
    assert refused.status_code == 403
    assert SandboxMachine.objects.get().power == "running"


def test_staff_operations_api_retries_a_failed_operation(alice, staff, vps, django_capture_on_commit_callbacks):
    from megalayer.provisioning.drivers.sandbox import sandbox_fault_add

    sandbox_fault_add(pool="hkg", action="create", error="terminal", message="no such template")
    with_billing(alice)
    fund(alice, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/api/v1/orders", json.dumps({"product": vps.code}), content_type=JSON, **bearer(alice.owner))
    staff_headers = bearer(staff, staff=True)
    failed = Client().get("/api/v1/staff/operations?status=failed", **staff_headers).json()["items"]
    assert [(o["kind"], o["error"]) for o in failed] == [("create", "TerminalError: no such template")]
    assert Client().get("/api/v1/staff/operations", **bearer(alice.owner)).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        retried = Client().post(f"/api/v1/staff/operations/{failed[0]['id']}/retry", **staff_headers)
    assert (retried.status_code, retried.json()["status"]) == (200, "pending")
    assert Operation.objects.get(public_id=failed[0]["id"]).status == "succeeded"
    assert Service.objects.get(customer=alice).status == "active"
    hosts = Client().get("/api/v1/staff/hosts", **staff_headers).json()
    assert [(h["name"], h["driver"], h["parameters"]) for h in hosts] == [
        ("hkg-sandbox-1", "sandbox", {"pool": "hkg", "latency_seconds": "0", "console_address": ""})
    ]


def test_a_preserved_server_cannot_be_wiped_by_its_customer(
    alice, alice_server, staff, django_capture_on_commit_callbacks
):
    """TOS-HOLD-1: nothing under a hold is deleted, "whatever else asks": a reinstall, a restore or a
    snapshot deletion erase data, so they wait; the customer is told the server is preserved, not why."""
    from megalayer.abuse.actions.holds import legal_hold_place, legal_hold_release

    headers = bearer(alice.owner)
    base = f"/api/v1/services/{alice_server.public_id}"
    cap = django_capture_on_commit_callbacks
    fund(alice, "5.00")
    with clock.travel(T0 + dt.timedelta(hours=1)):
        _post(f"{base}/reinstall", {"os_image": "ubuntu-24-04", "confirm_erase": True}, headers, cap, "free")
        assert _post(f"{base}/snapshots", {"name": "before"}, headers, cap).status_code == 202
        with cap(execute=True):
            hold = legal_hold_place(staff=staff, service=alice_server, reason="Police request 2027/301")
        balance = customer_balance(alice, "USD")
        invoices = Invoice.objects.count()
        before = Operation.objects.count()
        for key, url, body in (
            ("held-1", f"{base}/reinstall", {"os_image": "debian-12", "confirm_erase": True}),  # would cost a fee
            ("held-2", f"{base}/snapshots/before/restore", {}),
        ):
            refused = _post(url, body, headers, cap, key)
            assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[-1]) == (409, "server-preserved")
            assert "Police" not in refused.content.decode()
        with cap(execute=True):
            deleted = Client().delete(f"{base}/snapshots/before", **headers)
        assert deleted.status_code == 409
        assert (customer_balance(alice, "USD"), Invoice.objects.count()) == (balance, invoices)  # no fee taken
        assert Operation.objects.count() == before
        assert _post(f"{base}/power", {"action": "reboot"}, headers, cap).status_code == 202  # the rest works
        legal_hold_release(hold=hold, staff=staff, note="done")
        assert _post(f"{base}/snapshots/before/restore", {}, headers, cap).status_code == 202


def test_a_server_gets_an_ipv6_prefix_where_the_tier_has_an_ipv6_pool(alice, vps, django_capture_on_commit_callbacks):
    """Issue 18: besides its IPv4 address, each server gets a /64 (the product's ``ipv6_prefix_length``) from
    the tier's IPv6 pool; complaints about any address inside it are attributed to the service."""
    Prefix.objects.create(
        cidr="2001:db8:4a2::/48", family=6, gateway="2001:db8:4a2::1", location=vps.location, tier=vps.tier
    )
    with_billing(alice)
    fund(alice, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        placed = Client().post(
            "/api/v1/orders", json.dumps({"product": vps.code}), content_type=JSON, **bearer(alice.owner)
        )
    service_id = placed.json()["service"]
    ips = Client().get(f"/api/v1/services/{service_id}/ips", **bearer(alice.owner)).json()
    assert ips == [
        {"address": "198.18.0.2", "family": 4, "reverse_dns": "", "prefix_length": None},
        {"address": "2001:db8:4a2:1::", "family": 6, "reverse_dns": "", "prefix_length": 64},
    ]
    named = Client().put(
        f"/api/v1/services/{service_id}/rdns",
        json.dumps({"address": "2001:db8:4a2:1:dead:beef::7", "hostname": "mail6.alice.example"}),
        content_type=JSON,
        **bearer(alice.owner),
    )
    assert (named.status_code, named.json()["reverse_dns"]) == (200, "mail6.alice.example")
    outside = Client().put(
        f"/api/v1/services/{service_id}/rdns",
        json.dumps({"address": "2001:db8:4a2:2::7", "hostname": "x.alice.example"}),
        content_type=JSON,
        **bearer(alice.owner),
    )
    assert outside.status_code == 404  # not inside this server's /64
    holder = holder_at("2001:db8:4a2:1:dead:beef::7", clock.now())
    assert holder is not None
    assert holder.service is not None
    assert holder.service.public_id == service_id
