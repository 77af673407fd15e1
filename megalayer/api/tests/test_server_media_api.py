"""Issue 18 through the API: the rescue system (one-time password shown once) and back, ISO images from the
operator's list, cloud-init user data at order and reinstall; every refusal is clear and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import IsoImage
from megalayer.conftest import bearer
from megalayer.core import clock
from megalayer.orders.models import Order
from megalayer.provisioning.models import Host, Operation, SandboxMachine, Server
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
JSON = "application/json"
T0 = dt.datetime(2027, 6, 2, 3, 0, tzinfo=dt.UTC)
CLOUD_CONFIG = "#cloud-config\npackages: [nginx]\nruncmd:\n  - systemctl enable --now nginx\n"


def _order(alice: Any, vps: Any, capture: Any, **extra: Any) -> Any:
    with clock.travel(T0), capture(execute=True):
        return Client().post(
            "/api/v1/orders",
            json.dumps({"product": vps.code, "os_image": "debian-12", **extra}),
            content_type=JSON,
            **bearer(alice.owner),
        )


@pytest.fixture
def server(alice, vps, django_capture_on_commit_callbacks):
    with_billing(alice)
    fund(alice, "10.00")
    assert _order(alice, vps, django_capture_on_commit_callbacks).status_code == 201
    return Service.objects.get(customer=alice)


def _call(method: str, url: str, user: Any, capture: Any, body: Any = None, key: str = "") -> Any:
    extra: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    with clock.travel(T0 + dt.timedelta(hours=1)), capture(execute=True):
        return getattr(Client(), method)(
            url, json.dumps(body) if body is not None else "", content_type=JSON, **bearer(user), **extra
        )


def test_rescue_enter_shows_its_password_once_and_exit_forgets_it(alice, server, django_capture_on_commit_callbacks):
    cap, base = django_capture_on_commit_callbacks, f"/api/v1/services/{server.public_id}"
    _call("post", f"{base}/password", alice.owner, cap)  # the server's own root password, seen at delivery
    disk = Server.objects.get(service=server).disk_id
    entered = _call("post", f"{base}/rescue", alice.owner, cap, key="r1")
    assert entered.status_code == 202
    assert (entered.json()["kind"], Operation.objects.get(public_id=entered.json()["id"]).status) == (
        "rescue_enter",
        "succeeded",
    )
    view = _call("get", f"{base}/server", alice.owner, cap).json()
    assert (view["rescue"], view["new_password_waiting"]) == (True, True)
    assert SandboxMachine.objects.get(name=Server.objects.get(service=server).name).rescue is True
    shown = _call("post", f"{base}/password", alice.owner, cap)
    assert (shown.status_code, shown.json()["user"], shown.json()["system"]) == (200, "root", "rescue")
    assert len(shown.json()["password"]) == 20
    assert _call("post", f"{base}/password", alice.owner, cap).status_code == 404  # once
    again = _call("post", f"{base}/rescue", alice.owner, cap, key="r2")
    assert (again.status_code, again.json()["detail"]) == (409, "The server is in the rescue system already.")
    left = _call("delete", f"{base}/rescue", alice.owner, cap, key="x1")
    assert left.status_code == 202
    server_row = Server.objects.get(service=server)
    assert (server_row.rescue, server_row.disk_id) == (False, disk)  # the disk was never touched
    not_in = _call("delete", f"{base}/rescue", alice.owner, cap, key="x2")
    assert (not_in.status_code, not_in.json()["detail"]) == (409, "The server is not in the rescue system.")


def test_an_unseen_rescue_password_is_forgotten_when_rescue_ends(alice, server, django_capture_on_commit_callbacks):
    cap, base = django_capture_on_commit_callbacks, f"/api/v1/services/{server.public_id}"
    _call("post", f"{base}/password", alice.owner, cap)
    _call("post", f"{base}/rescue", alice.owner, cap, key="r1")
    _call("delete", f"{base}/rescue", alice.owner, cap, key="x1")
    assert _call("get", f"{base}/server", alice.owner, cap).json()["new_password_waiting"] is False
    assert _call("post", f"{base}/password", alice.owner, cap).status_code == 404


def test_isos_from_the_operators_list_are_inserted_and_ejected(alice, server, django_capture_on_commit_callbacks):
    cap, base = django_capture_on_commit_callbacks, f"/api/v1/services/{server.public_id}"
    IsoImage.objects.create(code="debian-13-netinst", name="Debian 13 netinst")
    IsoImage.objects.create(code="old-installer", name="Withdrawn", enabled=False)
    assert _call("get", "/api/v1/isos", alice.owner, cap).json() == [
        {"code": "debian-13-netinst", "name": "Debian 13 netinst"}
    ]
    for bad in ("old-installer", "no-such-iso", ""):
        refused = _call("put", f"{base}/iso", alice.owner, cap, {"iso": bad}, key=f"bad-{bad}")
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "iso")
    assert not Operation.objects.filter(service=server, kind="iso_insert").exists()
    inserted = _call("put", f"{base}/iso", alice.owner, cap, {"iso": "debian-13-netinst"}, key="i1")
    assert inserted.status_code == 202
    assert _call("get", f"{base}/server", alice.owner, cap).json()["iso"] == "debian-13-netinst"
    assert _call("delete", f"{base}/iso", alice.owner, cap, key="e1").status_code == 202
    assert _call("get", f"{base}/server", alice.owner, cap).json()["iso"] is None
    none_left = _call("delete", f"{base}/iso", alice.owner, cap, key="e2")
    assert (none_left.status_code, none_left.json()["detail"]) == (409, "No ISO is inserted.")


def test_rescue_and_iso_on_a_host_that_cannot_are_refused_and_nothing_changes(
    alice, server, django_capture_on_commit_callbacks
):
    """A libvirt host without a rescue image and on the test driver: no rescue; the request is refused with
    the reason before anything is written."""
    cap, base = django_capture_on_commit_callbacks, f"/api/v1/services/{server.public_id}"
    host = Server.objects.get(service=server).host
    Host.objects.filter(pk=host.pk).update(driver="libvirt", parameters={"uri": "test:///default"})
    before = Operation.objects.filter(service=server).count()
    refused = _call("post", f"{base}/rescue", alice.owner, cap, key="r1")
    assert (refused.status_code, refused.json()["requirement"]) == (409, "TOS-OS-1")
    assert (
        refused.json()["detail"] == "This server's host cannot boot a rescue system; write to support if you need it."
    )
    assert Operation.objects.filter(service=server).count() == before
    assert Server.objects.get(service=server).rescue is False


def test_another_customers_server_is_not_found_for_rescue_and_iso(
    alice, bob, server, django_capture_on_commit_callbacks
):
    cap, base = django_capture_on_commit_callbacks, f"/api/v1/services/{server.public_id}"
    IsoImage.objects.create(code="debian-13-netinst", name="Debian 13 netinst")
    for method, url, body in (
        ("post", f"{base}/rescue", None),
        ("delete", f"{base}/rescue", None),
        ("put", f"{base}/iso", {"iso": "debian-13-netinst"}),
        ("delete", f"{base}/iso", None),
    ):
        assert _call(method, url, bob.owner, cap, body, key="k").status_code == 404
    assert not Operation.objects.filter(service=server, kind__in=["rescue_enter", "iso_insert"]).exists()


def test_user_data_at_order_reaches_the_server_and_is_not_kept_in_the_operation(
    alice, vps, django_capture_on_commit_callbacks
):
    with_billing(alice)
    fund(alice, "10.00")
    placed = _order(alice, vps, django_capture_on_commit_callbacks, user_data=CLOUD_CONFIG)
    assert placed.status_code == 201
    service = Service.objects.get(customer=alice)
    machine = SandboxMachine.objects.get(name=Server.objects.get(service=service).name)
    assert machine.user_data == CLOUD_CONFIG
    create = Operation.objects.get(service=service, kind="create")
    assert "user_data" not in create.secrets  # only the root password waits, to be shown once
    assert service.cloud_init == {"user_data": CLOUD_CONFIG}  # encrypted at rest, for rebuilds


@pytest.mark.parametrize(
    ("user_data", "message"),
    [
        ("#cloud-config\npackages: [nginx\n", "not valid YAML (line"),
        ("#cloud-config\n- just\n- a list\n", "must be a YAML mapping"),
        ("echo hello\n", "Start user data with #cloud-config"),
        ("#!bash\necho hi\n", "names its interpreter"),
        ("#cloud-config\nwrite_files: []\n" + "# padding\n" * 1700, "limited to 16 KiB"),
        ("#!/bin/sh\necho \x00\n", "NUL"),
    ],
)
def test_bad_user_data_is_refused_at_order_with_the_field_and_nothing_written(
    alice, vps, django_capture_on_commit_callbacks, user_data, message
):
    with_billing(alice)
    fund(alice, "10.00")
    refused = _order(alice, vps, django_capture_on_commit_callbacks, user_data=user_data)
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["field"] == "user_data"
    assert message in refused.json()["detail"]
    assert (Order.objects.count(), Service.objects.count()) == (0, 0)


def test_user_data_is_refused_where_no_host_can_take_it(alice, vps, django_capture_on_commit_callbacks):
    with_billing(alice)
    fund(alice, "10.00")
    Host.objects.filter(location=vps.location).update(driver="libvirt", parameters={"uri": "test:///default"})
    refused = _order(alice, vps, django_capture_on_commit_callbacks, user_data=CLOUD_CONFIG)
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "user_data")
    assert "cannot take cloud-init user data" in refused.json()["detail"]
    assert Order.objects.count() == 0


def test_reinstall_with_new_user_data_and_a_bad_one_refused_before_any_charge(
    alice, server, django_capture_on_commit_callbacks
):
    cap, base = django_capture_on_commit_callbacks, f"/api/v1/services/{server.public_id}"
    body = {"os_image": "debian-12", "confirm_erase": True}
    bad = _call("post", f"{base}/reinstall", alice.owner, cap, {**body, "user_data": "not a script"}, key="b")
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "user_data")
    assert not Operation.objects.filter(service=server, kind="reinstall").exists()
    script = "#!/bin/sh\necho ready > /etc/motd\n"
    done = _call("post", f"{base}/reinstall", alice.owner, cap, {**body, "user_data": script}, key="g")
    assert done.status_code == 202
    machine = SandboxMachine.objects.get(name=Server.objects.get(service=server).name)
    assert machine.user_data == script
    assert Service.objects.get(pk=server.pk).cloud_init == {"user_data": script}
