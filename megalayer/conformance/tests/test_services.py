"""Services and orders, end to end (requirements.md, "Services and orders")."""

import datetime as dt

import pytest

from megalayer.conformance.tests.steps import audit, customer_api, notices, portal, running_service
from megalayer.core import clock
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
OFFERED = {
    "debian-12",
    "debian-11",
    "ubuntu-24-04",
    "ubuntu-22-04",
    "almalinux-9",
    "rocky-9",
    "centos-stream-9",
    "centos-stream-10",
    "windows-2025",
    "windows-2022",
    "windows-2019",
}


def test_tos_os_1(alice, vps, staff, staff_client, django_capture_on_commit_callbacks):
    """The catalog offers Debian, Ubuntu, CentOS Stream, AlmaLinux, Rocky and Windows Server (self-activation
    required); staff choose the images a product runs; end-of-life images are not offered for new orders."""
    running_service(alice, vps, django_capture_on_commit_callbacks, funds="20.00")
    api = customer_api(alice)
    images = {i["code"]: i for i in api.get("/catalog/os-images").json()}
    assert set(images) == OFFERED
    assert {c for c, i in images.items() if i["self_activation_required"]} == {
        "windows-2025",
        "windows-2022",
        "windows-2019",
    }
    assert "centos-7" not in images  # end of life: stays on servers that run it, offered to nobody

    url = f"/backoffice/products/{vps.code}/"
    chosen = {"images_form": "1", "images": ["debian-12", "windows-2022", "centos-7"]}
    assert staff_client.post(url, chosen).status_code == 302
    [product] = api.get("/catalog/products").json()
    assert product["os_images"] == ["debian-12", "windows-2022"]
    [event] = audit("catalog.product_images", vps.code)
    assert (event.requirement, event.data["after"]) == ("TOS-OS-1", ["centos-7", "debian-12", "windows-2022"])
    nothing = staff_client.post(url, {"images_form": "1"}, follow=True).content.decode()
    assert "Choose at least one image" in nothing
    assert api.get("/catalog/products").json()[0]["os_images"] == ["debian-12", "windows-2022"]

    eol = api.post("/orders", {"product": vps.code, "os_image": "centos-7"})
    unlisted = api.post("/orders", {"product": vps.code, "os_image": "rocky-9"})
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in (eol, unlisted)] == [(422, "os_image")] * 2
    with django_capture_on_commit_callbacks(execute=True):
        windows = api.post("/orders", {"product": vps.code, "os_image": "windows-2022"})
    assert windows.status_code == 201
    page = portal(alice).get(f"/account/services/{windows.json()['service']}/").content.decode()
    assert "Windows Server 2022 (self-activation required)" in page


def _sandbox(settings) -> None:
    settings.MEGALAYER_GATEWAYS = ["sandbox"]


def _top_up(api, amount: str, capture) -> None:
    with capture(execute=True):
        done = api.post("/balance/top-ups", {"amount": {"amount": amount, "currency": "USD"}, "gateway": "sandbox"})
    assert done.status_code == 201, done.content


def test_tos_billdata_1(alice, vps):
    """No order before the billing data is complete; the refusal changes nothing."""
    api = customer_api(alice)
    refused = api.post("/orders", {"product": vps.code})
    assert (refused.status_code, refused.json()["type"], refused.json()["requirement"]) == (
        409,
        "/problems/billing-profile-required",
        "TOS-BILLDATA-1",
    )
    assert api.get("/orders").json() == []
    assert api.get("/invoices").json()["items"] == []


def test_tos_order_1(alice, vps, settings, django_capture_on_commit_callbacks):
    """An order is provisioned only once its invoice is paid in full: a part payment leaves it waiting."""
    _sandbox(settings)
    with_billing(alice)
    api = customer_api(alice)
    placed = api.post("/orders", {"product": vps.code, "os_image": "debian-12"}).json()
    assert (placed["status"], placed["service"]) == ("awaiting_payment", None)
    customer_set_auto_apply_off = portal(alice).post("/account/billing/", {"auto_apply": "off"})
    assert customer_set_auto_apply_off.status_code == 302
    _top_up(api, "4.00", django_capture_on_commit_callbacks)
    part = api.post(f"/invoices/{placed['invoice']}/pay", {"amount": {"amount": "4.00", "currency": "USD"}})
    assert part.status_code == 200, part.content
    assert api.get("/orders").json()[0]["service"] is None  # 6.00 still due: nothing provisioned
    _top_up(api, "6.00", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        rest = api.post(f"/invoices/{placed['invoice']}/pay")
    assert rest.status_code == 200, rest.content
    [order] = api.get("/orders").json()
    assert order["status"] == "accepted"
    assert api.get(f"/services/{order['service']}").json()["status"] == "active"
    [activated] = notices(api, "service_activated")
    assert activated["requirement"] == "TOS-ORDER-1"
    [active] = audit("service.active", order["service"])
    assert active.requirement == "TOS-ORDER-1"


def test_tos_term_1(alice, vps, django_capture_on_commit_callbacks):
    """A service's paid-until date and its next step are always known, in the client area and the API."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    seen = customer_api(alice).get(f"/services/{service_id}").json()
    paid_until = dt.datetime.fromisoformat(seen["paid_until"])
    assert paid_until > clock.now()
    assert (seen["next_step"], seen["next_step_clause"]) == ("Renewal invoice", "Payment and Refund Policy 1")
    page = portal(alice).get(f"/account/services/{service_id}/").content.decode()
    assert f"{paid_until:%-d %B %Y}" in page


def test_tos_reinstall_1(alice, vps, settings, django_capture_on_commit_callbacks):
    """One free reinstall a calendar month; each further one costs the fee, charged before it starts, and is
    refused with nothing changed when the balance does not cover it."""
    _sandbox(settings)
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    base = f"/services/{service_id}"
    quota = api.get(f"{base}/reinstall-quota").json()
    assert (quota["free_left"], quota["fee"], quota["next_reinstall_costs"]["amount"]) == (
        1,
        {"amount": "5.00", "currency": "USD"},
        "0.00",
    )
    page = portal(alice).get(f"/account/services/{service_id}/").content.decode()
    assert "<strong>1 free reinstall</strong> left in" in page
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"{base}/reinstall", {"os_image": "ubuntu-24-04", "confirm_erase": True}).status_code == 202
    assert api.get(f"{base}/reinstall-quota").json()["next_reinstall_costs"]["amount"] == "5.00"
    short = api.post(f"{base}/reinstall", {"os_image": "debian-12", "confirm_erase": True})
    assert (short.status_code, short.json()["type"]) == (409, "/problems/insufficient-balance")
    assert len(api.get(f"{base}/operations").json()) == 2  # create and the first reinstall: nothing started
    _top_up(api, "5.00", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        paid = api.post(f"{base}/reinstall", {"os_image": "debian-12", "confirm_erase": True})
    assert paid.status_code == 202
    assert api.get("/balance").json()["balances"] == [{"amount": "0.00", "currency": "USD"}]
    fee = [i for i in api.get("/invoices").json()["items"] if i["total"]["amount"] == "5.00"]
    assert [(i["status"], i["lines"][0]["description"].startswith("Reinstall")) for i in fee] == [("paid", True)]
    assert [n["requirement"] for n in notices(api, "reinstall_done")] == ["TOS-REINSTALL-1"] * 2


def test_tos_reinstall_2(alice, vps, django_capture_on_commit_callbacks):
    """A reinstall erases the disk: the customer confirms explicitly, follows the job, and is shown the new
    root password once."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    base = f"/services/{service_id}"
    unconfirmed = api.post(f"{base}/reinstall", {"os_image": "ubuntu-24-04", "confirm_erase": False})
    assert (unconfirmed.status_code, unconfirmed.json()["errors"][0]["field"]) == (422, "confirm_erase")
    assert [o["kind"] for o in api.get(f"{base}/operations").json()] == ["create"]
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(f"{base}/reinstall", {"os_image": "ubuntu-24-04", "confirm_erase": True})
    assert first.status_code == 202
    job = api.get(f"{base}/operations/{first.json()['id']}").json()
    assert (job["kind"], job["status"]) == ("reinstall", "succeeded")
    assert api.get(f"{base}/server").json()["os_image"] == "ubuntu-24-04"
    shown = api.post(f"{base}/password")
    assert (shown.status_code, shown.json()["user"], len(shown.json()["password"])) == (200, "root", 20)
    assert api.post(f"{base}/password").status_code == 404  # shown once
    progress = portal(alice).get(f"/account/services/{service_id}/operations.json")
    assert progress.status_code == 200


def test_tos_backup_1(alice, vps, django_capture_on_commit_callbacks):
    """The client area recommends backups; snapshots are offered where the driver supports them."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    server = api.get(f"/services/{service_id}/server").json()
    assert "snapshots" in server["capabilities"]
    with django_capture_on_commit_callbacks(execute=True):
        snap = api.post(f"/services/{service_id}/snapshots", {"name": "before-upgrade"})
    assert snap.status_code == 202
    assert [s["name"] for s in api.get(f"/services/{service_id}/server").json()["snapshots"]] == ["before-upgrade"]
    page = portal(alice).get(f"/account/services/{service_id}/").content.decode().lower()
    assert "backup" in page
