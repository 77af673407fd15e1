"""A dedicated server's whole life on bare metal (issue 19), against a real Redfish service: sushy-tools'
emulator in front of QEMU machines. An order takes a machine and installs it from the installer image over
the BMC's virtual media; suspension powers it off and keeps its disks; deletion boots the wipe image and
gives the machine back only when the wipe has finished; a wipe that never finishes leaves the machine in
maintenance with the staff alerted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from megalayer.audit.actions import Actor
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import HardwareProfile, Location, NetworkTier, OsImage, Product
from megalayer.conftest import hkg_sandbox, make_customer, redfish_host, seed_catalog
from megalayer.core import clock
from megalayer.core.money import Money
from megalayer.notices.models import Notice
from megalayer.orders.actions import order_place
from megalayer.provisioning.actions.reinstall import reinstall_quota, reinstall_request
from megalayer.provisioning.models import Machine, Operation, Server
from megalayer.provisioning.tests.drivers_under_test import HAS_LIBVIRT, HAS_SUSHY, EmulatedRack, emulated_rack
from megalayer.provisioning.tests.test_machines import dedicated_product
from megalayer.services.actions import service_suspend, service_terminate, service_unsuspend
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.qemu,
    pytest.mark.django_db,
    pytest.mark.skipif(not (HAS_LIBVIRT and HAS_SUSHY), reason="needs the 'redfish' and 'libvirt' extras"),
]
CUSTOMER = Actor.system("test customer")
STAFF = Actor.system("test staff")


@pytest.fixture
def rack() -> Iterator[EmulatedRack]:
    """The rack, its installers and wipe image finishing as the real ones do (they power the machine off)."""
    rack = emulated_rack()
    rack.reset()
    with rack.images_finish():
        yield rack


@pytest.fixture
def rack_whose_wipe_hangs() -> Iterator[EmulatedRack]:
    rack = emulated_rack()
    rack.reset()
    with rack.images_finish(wipe=False):
        yield rack


def _metal(rack: EmulatedRack, wipe_timeout: str = "120") -> Product:
    seed_catalog()
    hkg, premium = Location.objects.get(code="hkg"), NetworkTier.objects.get(code="premium")
    hkg_sandbox(hkg, premium)
    profile = HardwareProfile.objects.create(code="e3", name="E3", cpu_cores=1, memory_gb=1, disks="16 MB")
    host = redfish_host(
        hkg,
        {
            "installer_url": f"{rack.media_url}/installers/{{image}}.iso",
            "wipe_url": f"{rack.media_url}/wipe.iso",
            "wipe_timeout": wipe_timeout,
            "power_timeout": "60",
        },
    )
    now = clock.now()
    for name in rack.names[:1]:
        Machine.objects.create(
            name=name,
            host=host,
            profile=profile,
            macs=["52:54:00:7e:00:00"],  # the emulated rack's first machine
            bmc={"url": rack.url, "username": "admin", "password": "pw", "system": rack.systems[name], "verify_tls": 0},
            created_at=now,
            changed_at=now,
        )
    product = dedicated_product(profile)
    return product


def _cd(rack: EmulatedRack, name: str) -> str:
    """The image in the machine's virtual CD as libvirt has it (the emulator copies it into its pool)."""
    import xml.etree.ElementTree as ET

    tree = ET.fromstring(rack.conn.lookupByName(name).XMLDesc(0))
    source = tree.find("devices/disk[@device='cdrom']/source")
    return source.get("file", "") if source is not None else ""


def _order(product: Product, capture: Any) -> Service:
    customer = with_billing(make_customer("metal@example.com"))
    fund(customer, "80.00")
    with capture(execute=True):
        order_place(customer=customer, product=product, cycle="monthly", os_image=None, actor=CUSTOMER)
    return Service.objects.get(customer=customer)


def test_order_install_suspend_delete_on_a_redfish_machine(rack, terms_v1, django_capture_on_commit_callbacks):
    product = _metal(rack)
    name = rack.names[0]
    service = _order(product, django_capture_on_commit_callbacks)
    service.refresh_from_db()
    assert service.status == "active"
    machine = Machine.objects.get()
    server = Server.objects.get(service=service)
    assert (machine.state, machine.server_id) == ("in_service", server.pk)
    assert Operation.objects.get(service=service, kind="create").status == "succeeded"
    domain = rack.conn.lookupByName(name)
    assert domain.isActive()
    assert "debian-12" in _cd(rack, name)  # booted the installer of the ordered image
    assert (server.power, server.image) == ("running", "debian-12")

    with django_capture_on_commit_callbacks(execute=True):
        service_suspend(service=service, reason="staff", actor=STAFF, requirement="TOS-ABUSE-2")
    assert not domain.isActive()  # powered off, the disks kept
    assert Server.objects.get(pk=server.pk).power == "stopped"
    assert Machine.objects.get().state == "in_service"
    with django_capture_on_commit_callbacks(execute=True):
        service_unsuspend(service=service, actor=STAFF, requirement="TOS-ABUSE-2")
    assert domain.isActive()

    # Reinstall: the same monthly quota as a VPS (one free, then the fee), the installer of the new image.
    ubuntu = OsImage.objects.get(code="ubuntu-24-04")
    product.os_images.add(ubuntu)
    with django_capture_on_commit_callbacks(execute=True):
        first = reinstall_request(
            service=service, os_image=ubuntu, confirm_erase=True, actor=CUSTOMER, idempotency_key="r1"
        )
    assert (first.parameters["free"], first.fee_invoice) == (True, None)
    assert Operation.objects.get(pk=first.pk).status == "succeeded"
    assert "ubuntu-24-04" in _cd(rack, name)
    assert domain.isActive()
    assert reinstall_quota(Service.objects.get(pk=service.pk)).next_costs == Money.of("5.00", "USD")

    with django_capture_on_commit_callbacks(execute=True):
        service_terminate(service=service, reason="staff", actor=STAFF, requirement="TOS-VIOLATION-1")
    destroyed = Server.objects.get(pk=server.pk)
    assert destroyed.destroyed_at is not None
    assert destroyed.disk_wiped is True
    machine.refresh_from_db()
    assert (machine.state, machine.server_id) == ("available", None)
    assert not domain.isActive()
    assert "wipe" not in _cd(rack, name)  # ejected


def test_a_wipe_that_does_not_finish_leaves_the_machine_in_maintenance(
    rack_whose_wipe_hangs, terms_v1, django_capture_on_commit_callbacks
):
    product = _metal(rack_whose_wipe_hangs, wipe_timeout="3")
    service = _order(product, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):  # the wipe image never powers the machine off
        service_terminate(service=service, reason="staff", actor=STAFF, requirement="TOS-VIOLATION-1")
    machine = Machine.objects.get()
    assert machine.state == "maintenance"
    assert "wipe" in machine.note
    assert machine.server is not None  # still held: never given to another order unwiped
    destroy = Operation.objects.get(service=service, kind="destroy")
    assert destroy.status == "failed"
    assert Server.objects.get(service=service).destroyed_at is None
    assert Notice.objects.filter(kind="operation_failed").exists()  # the staff alert


def test_the_hardware_is_read_from_the_bmc_and_a_machine_unlike_its_profile_is_kept_from_orders(rack, terms_v1):
    from megalayer.provisioning.actions.machine_checks import machine_inspect

    _metal(rack)
    machine = Machine.objects.get()
    assert machine_inspect(machine=machine, actor=STAFF) == []
    machine.refresh_from_db()
    assert machine.state == "available"
    assert machine.hardware["uuid"] == rack.systems[rack.names[0]]
    assert (machine.hardware["cpu_cores"], machine.hardware["memory_gib"]) == (1, "1")
    assert machine.hardware["macs"] == ["52:54:00:7e:00:00"]
    assert machine.inspected_at is not None

    HardwareProfile.objects.filter(pk=machine.profile_id).update(memory_gb=64, cpu_cores=8)
    Machine.objects.filter(pk=machine.pk).update(macs=["52:54:00:7e:00:00", "52:54:00:7e:00:99"])
    machine.refresh_from_db()
    differences = machine_inspect(machine=machine, actor=STAFF)
    assert differences == [
        "CPU cores: 1 reported, 8 in the profile",
        "memory: 1 GiB reported, 64 GB in the profile",
        "MACs not reported by the BMC: 52:54:00:7e:00:99",
    ]
    machine.refresh_from_db()
    assert (machine.state, machine.note) == ("maintenance", "; ".join(differences))
