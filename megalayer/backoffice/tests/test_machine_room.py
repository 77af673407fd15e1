"""Back office machine room: hosts (secrets masked), prefixes with utilisation and "who held it",
operations (filter, retry, cancel), null routes; customers get no access."""

from __future__ import annotations

import datetime as dt

import pytest

from megalayer.audit.actions import Actor
from megalayer.billing.tests.conftest import fund
from megalayer.conftest import redfish_host
from megalayer.core import clock
from megalayer.network.announcers import RecordingAnnouncer
from megalayer.network.models import NullRoute, Prefix
from megalayer.orders.actions import order_place
from megalayer.provisioning.drivers.sandbox import sandbox_fault_add
from megalayer.provisioning.models import Host, Operation
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 7, 1, 1, 0, tzinfo=dt.UTC)


def _service(alice, vps, capture) -> Service:
    with_billing(alice)
    fund(alice, "10.00")
    with clock.travel(T0), capture(execute=True):
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    return Service.objects.get(customer=alice)


def test_customers_cannot_enter_the_machine_room(alice_client):
    for url in ("hosts/", "hosts/new/", "network/prefixes/", "network/null-routes/", "operations/"):
        response = alice_client.get(f"/backoffice/{url}")
        assert response.status_code == 302, url
        assert "/login" in response["Location"] or "/auth/" in response["Location"]


def test_a_proxmox_host_is_saved_with_its_secret_masked_and_kept(staff_client, vps):
    form = {
        "name": "sjc-pve-1",
        "driver": "proxmox",
        "location": "sjc",
        "status": "active",
        "capacity_vcpus": "64",
        "capacity_memory_gb": "256",
        "capacity_disk_gb": "4000",
        "param_proxmox_host": "pve1.example.net",
        "param_proxmox_node": "pve1",
        "param_proxmox_token_name": "megalayer",
        "param_proxmox_token_value": "s3cr3t-token-value",
        "param_libvirt_uri": "ignored because another driver was chosen",
    }
    missing = staff_client.post("/backoffice/hosts/new/", {**form, "param_proxmox_node": ""})
    assert "missing parameter(s) node" in missing.content.decode()
    assert not Host.objects.filter(name="sjc-pve-1").exists()
    response = staff_client.post("/backoffice/hosts/new/", form)
    host = Host.objects.get(name="sjc-pve-1")
    assert response["Location"] == f"/backoffice/hosts/{host.public_id}/"
    assert host.parameters == {
        "host": "pve1.example.net",
        "node": "pve1",
        "token_name": "megalayer",
        "token_value": "s3cr3t-token-value",
    }
    detail = staff_client.get(f"/backoffice/hosts/{host.public_id}/").content.decode()
    edit = staff_client.get(f"/backoffice/hosts/{host.public_id}/edit/").content.decode()
    listing = staff_client.get("/backoffice/hosts/").content.decode()
    for page in (detail, edit, listing):
        assert "s3cr3t-token-value" not in page
    assert "••••••" in detail
    staff_client.post(f"/backoffice/hosts/{host.public_id}/edit/", {**form, "param_proxmox_token_value": ""})
    host.refresh_from_db()
    assert host.parameters["token_value"] == "s3cr3t-token-value"  # left empty: kept


def test_prefixes_show_utilisation_and_who_held_an_address(
    staff_client, alice, vps, django_capture_on_commit_callbacks
):
    _service(alice, vps, django_capture_on_commit_callbacks)
    page = staff_client.get("/backoffice/network/prefixes/").content.decode()
    assert "198.18.0.0/22" in page
    assert "1 of 1,021 (0%)" in page
    found = staff_client.get("/backoffice/network/prefixes/?address=198.18.0.2&at=2027-07-01T02:00").content.decode()
    assert "alice@example.com" in found
    assert "held 198.18.0.2 at 2027-07-01 02:00 UTC" in found
    before = staff_client.get("/backoffice/network/prefixes/?address=198.18.0.2&at=2027-06-30T02:00").content.decode()
    assert "Nobody held 198.18.0.2" in before
    overlap = staff_client.post(
        "/backoffice/network/prefixes/",
        {"cidr": "198.18.1.0/24", "location": "hkg", "tier": "premium", "role": "customer"},
    )
    assert "Overlaps 198.18.0.0/22." in overlap.content.decode()
    staff_client.post(
        "/backoffice/network/prefixes/",
        {"cidr": "2001:db8:77::/48", "location": "hkg", "tier": "premium", "role": "customer"},
    )
    assert Prefix.objects.get(cidr="2001:db8:77::/48").family == 6


def test_failed_operations_are_filtered_retried_and_cancelled(
    staff_client, alice, vps, django_capture_on_commit_callbacks
):
    sandbox_fault_add(pool="hkg", action="create", error="terminal", message="template missing")
    service = _service(alice, vps, django_capture_on_commit_callbacks)
    create = Operation.objects.get(service=service)
    page = staff_client.get("/backoffice/operations/?status=failed").content.decode()
    assert create.public_id in page
    assert "template missing" in page
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/backoffice/operations/?status=failed", {"operation": create.public_id, "action": "retry"})
    create.refresh_from_db()
    assert create.status == "succeeded"
    assert Service.objects.get(pk=service.pk).status == "active"
    refused = staff_client.post(
        "/backoffice/operations/", {"operation": create.public_id, "action": "cancel"}, follow=True
    )
    assert "Lifecycle operations follow the service" in refused.content.decode()


def test_null_routes_start_and_end_with_the_holder_shown(staff_client, alice, vps, django_capture_on_commit_callbacks):
    _service(alice, vps, django_capture_on_commit_callbacks)
    with clock.travel(T0 + dt.timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/backoffice/network/null-routes/",
            {"action": "start", "address": "198.18.0.2", "reason": "DDoS target", "requirement": "TOS-ATTACK-1"},
        )
    route = NullRoute.objects.get(address="198.18.0.2")
    page = staff_client.get("/backoffice/network/null-routes/").content.decode()
    assert "DDoS target" in page
    assert "alice@example.com" in page
    assert RecordingAnnouncer.sent[-1] == "announce 198.18.0.2/32 community 65535:666"
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/backoffice/network/null-routes/", {"action": "end", "address": "198.18.0.2", "note": "over"}
        )
    route.refresh_from_db()
    assert route.ended_at is not None


def test_mail_templates_preview_and_test_send(staff_client, staff, alice):
    from megalayer.notices.actions import notice_create
    from megalayer.notices.models import Notice

    notice_create(
        kind="ticket_reply",
        recipient="alice@example.com",
        customer=alice,
        dedupe_key="x1",
        subject="[tkt_1] Hello",
        body_text="Plain part",
        body_html="<p>HTML part</p>",
    )
    listing = staff_client.get("/backoffice/mail/").content.decode()
    assert "Ticket answered" in listing
    assert "TOS-TICKET-1" in listing
    preview = staff_client.get("/backoffice/mail/?kind=ticket_reply").content.decode()
    assert "Plain part" in preview
    assert "&lt;p&gt;HTML part&lt;/p&gt;" in preview  # inside a sandboxed srcdoc, escaped
    staff_client.post("/backoffice/mail/", {"kind": "ticket_reply"})
    test = Notice.objects.get(recipient=staff.email)
    assert (test.subject, test.customer) == ("[test] [tkt_1] Hello", None)


@pytest.mark.parametrize(
    ("uri", "accepted"),
    [
        ("qemu+ssh://root@kvm1.example.net/system", True),
        ("qemu+ssh://root@kvm1.example.net:2222/system?keyfile=/etc/megalayer/id_ed25519", True),
        ("qemu+tls://kvm1.example.net/system", True),
        ("qemu:///system", True),
        ("test:///default", True),
        ("qemu+ext:///system?command=/bin/touch%20/tmp/pwned", False),
        ("qemu+ssh://root@kvm1.example.net/system?netcat=/bin/sh", False),
        ("qemu+ssh://root@kvm1.example.net/system?command=/bin/sh", False),
        ("qemu+unix:///system?socket=/tmp/evil.sock", False),
        ("qemu+tcp://kvm1.example.net/system", False),
        ("qemu+tls://kvm1.example.net/system?no_verify=1", False),
        ("qemu:///session", False),
        ("test:///etc/shadow", False),
        ("qemu+ssh://root@kvm1.example.net/system?keyfile=/k%0A", False),
        ("qemu+ssh://root@kvm 1.example.net/system", False),
    ],
)
def test_a_libvirt_host_takes_only_the_transports_an_operator_needs(staff_client, vps, uri, accepted):
    """Issue 14, item 7: a transport that runs a program on the platform's host (or opens a socket the URI
    names, or talks in clear text) is refused, with the host not saved; the operator's transports pass."""
    form = {
        "name": "kvm-1",
        "driver": "libvirt",
        "location": "hkg",
        "status": "active",
        "capacity_vcpus": "64",
        "capacity_memory_gb": "256",
        "capacity_disk_gb": "4000",
        "param_libvirt_uri": uri,
        "param_libvirt_pool": "default",
    }
    response = staff_client.post("/backoffice/hosts/new/", form)
    if accepted:
        assert response.status_code == 302
        assert Host.objects.get(name="kvm-1").parameters["uri"] == uri
    else:
        assert response.status_code == 200
        assert "the connection URI must be qemu+ssh://" in response.content.decode()
        assert not Host.objects.filter(name="kvm-1").exists()


def test_every_host_parameter_is_validated(staff, vps):
    from megalayer.core.errors import InvalidInput
    from megalayer.provisioning.actions.hosts import host_save

    base = {"uri": "qemu:///system", "pool": "default", "domain_type": "kvm", "cloud_init": "yes"}
    for name, value in (("pool", "../etc"), ("network", "br0; reboot"), ("domain_type", "xen"), ("cloud_init", "1")):
        with pytest.raises(InvalidInput) as refused:
            host_save(
                staff=staff, name="kvm-2", driver="libvirt", location=vps.location, parameters={**base, name: value},
                capacity_vcpus=4, capacity_memory_gb=8, capacity_disk_gb=100,
            )  # fmt: skip
        assert refused.value.field == "parameters", name
    assert not Host.objects.filter(name="kvm-2").exists()


def test_a_rack_is_imported_searched_and_a_machine_taken_out_on_the_machines_page(staff_client, vps):
    """Issue 19: the inventory page. A bad file is refused with its line and nothing registered; the BMC's
    address and password never appear on the page; a machine goes to maintenance and back."""
    from megalayer.catalog.models import HardwareProfile
    from megalayer.provisioning.models import Machine

    HardwareProfile.objects.create(code="e3-32g", name="Xeon E3, 32 GB", cpu_cores=4, memory_gb=32, disks="2 × SSD")
    redfish_host(vps.location, {"installer_url": "http://boot.example.net/{image}.iso"})
    header = "name,host,profile,rack,position,serial,macs,bmc_url,bmc_username,bmc_password\n"
    good = "r1-01,hkg-rack-a,e3-32g,R1,U01,SN-7781,52:54:00:aa:00:01,https://10.9.0.11,root,Bmc-Secret-1\n"
    bad = "r1-02,hkg-rack-a,e3-32g,R1,U02,SN-7782,not-a-mac,https://10.9.0.12,root,Bmc-Secret-2\n"
    refused = staff_client.post("/backoffice/machines/", {"action": "import", "csv": header + good + bad}, follow=True)
    assert "Line 3: list the MAC addresses" in refused.content.decode()
    assert not Machine.objects.exists()

    staff_client.post("/backoffice/machines/", {"action": "import", "csv": header + good})
    page = staff_client.get("/backoffice/machines/?q=7781").content.decode()
    assert "r1-01" in page
    assert "52:54:00:aa:00:01" in page
    assert "Bmc-Secret-1" not in page
    assert "10.9.0.11" not in page
    assert "r1-01" not in staff_client.get("/backoffice/machines/?q=nothing-like-it").content.decode()

    machine = Machine.objects.get()
    staff_client.post("/backoffice/machines/", {"machine": machine.public_id, "state": "maintenance", "note": "PSU"})
    machine.refresh_from_db()
    assert (machine.state, machine.note) == ("maintenance", "PSU")
    listed = staff_client.get("/backoffice/machines/?state=maintenance").content.decode()
    assert "r1-01" in listed
    assert "PSU" in listed
    staff_client.post("/backoffice/machines/", {"machine": machine.public_id, "state": "available"})
    machine.refresh_from_db()
    assert machine.state == "available"


def test_checking_an_unreachable_bmc_says_so_and_changes_nothing(staff_client, vps):
    from megalayer.catalog.models import HardwareProfile
    from megalayer.provisioning.models import Machine

    profile = HardwareProfile.objects.create(code="e3", name="E3", cpu_cores=4, memory_gb=32, disks="2 × SSD")
    host = redfish_host(vps.location, {"installer_url": "http://boot.example.net/{image}.iso"})
    machine = Machine.objects.create(
        name="r1-01",
        host=host,
        profile=profile,
        macs=["52:54:00:aa:00:01"],
        bmc={"url": "http://127.0.0.1:9", "username": "root", "password": "x"},  # nothing listens on port 9
        created_at=clock.now(),
        changed_at=clock.now(),
    )
    page = staff_client.post(
        "/backoffice/machines/", {"action": "inspect", "machine": machine.public_id}, follow=True
    ).content.decode()
    assert "r1-01: redfish: the BMC did not answer" in page
    machine.refresh_from_db()
    assert (machine.state, machine.inspected_at, machine.hardware) == ("available", None, {})
