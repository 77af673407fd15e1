"""The inventory of physical machines (issue 19): import from CSV, an order takes one free machine of its
profile (never two orders one machine, under real parallel orders on PostgreSQL), an order with none free
waits and is served first-paid-first when a machine comes back, and only a wiped machine comes back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import HardwareProfile, Location, NetworkTier, OsImage, PriceVersion, Product
from megalayer.conftest import make_customer, redfish_host, seed_catalog
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.orders.actions import order_place
from megalayer.provisioning import actions as provisioning_actions
from megalayer.provisioning.actions import machines_assign_waiting
from megalayer.provisioning.actions.hosts import host_driver
from megalayer.provisioning.actions.machines import InventoryDirectory, machine_set_state, machines_import_csv
from megalayer.provisioning.drivers.base import Bmc
from megalayer.provisioning.models import Host, Machine, MachineWait, Operation, Server
from megalayer.services.actions import service_provision
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing
from megalayer.testing_parallel import run_in_parallel, skip_unless_threads_share_the_database

CUSTOMER = Actor.system("test customer")
HEADER = "name,host,profile,rack,position,serial,macs,bmc_url,bmc_username,bmc_password,bmc_system\n"


def _rack(machines: int = 3) -> Product:
    seed_catalog()
    hkg, premium = Location.objects.get(code="hkg"), NetworkTier.objects.get(code="premium")
    from megalayer.conftest import hkg_sandbox

    hkg_sandbox(hkg, premium)  # the address pool
    profile = HardwareProfile.objects.create(
        code="e3-32g", name="Xeon E3, 32 GB", cpu_cores=4, memory_gb=32, disks="2 × 480 GB SSD"
    )
    redfish_host(hkg, {"installer_url": "http://boot.example.net/installers/{image}.iso"})
    product = dedicated_product(profile)
    rows = "".join(
        f"m{n},hkg-rack-a,e3-32g,A1,U{10 + n},SN{n},52:54:00:aa:00:{n:02x},https://10.9.0.{n + 10},admin,secret-{n},1\n"
        for n in range(machines)
    )
    if machines:
        machines_import_csv(staff=_staff(), text=HEADER + rows)
    return product


def dedicated_product(profile: HardwareProfile) -> Product:
    """A dedicated-server plan in Hong Kong (premium) selling machines of ``profile``, at $80 a month."""
    product = Product.objects.create(
        code=f"ded-hkg-{profile.code}",
        name=f"Dedicated {profile.name}",
        kind="dedicated",
        location=Location.objects.get(code="hkg"),
        tier=NetworkTier.objects.get(code="premium"),
        cpu_cores=profile.cpu_cores,
        memory_gb=profile.memory_gb,
        disk_gb=480,
        bandwidth_tb=Decimal("10"),
        hardware_profile=profile,
    )
    product.os_images.set(OsImage.objects.filter(code="debian-12"))
    PriceVersion.objects.create(
        product=product,
        cycle="monthly",
        amount=Decimal("80.00"),
        currency="USD",
        effective_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        created_at=clock.now(),
    )
    return product


def _staff() -> Any:
    from megalayer.accounts.models import User

    user, _ = User.objects.get_or_create(email="ops@example.net", defaults={"is_staff": True})
    return user


def _paid(product: Product, email: str) -> Service:
    """A paid order for the product, not yet provisioned."""
    customer = with_billing(make_customer(email))
    fund(customer, "80.00")
    order_place(customer=customer, product=product, cycle="monthly", os_image=None, actor=CUSTOMER)
    return Service.objects.get(customer=customer)


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The create operations requested, recorded instead of run: what the BMC then does is the subject of
    the Redfish flow test, not of the allocation tests."""
    ids: list[int] = []
    monkeypatch.setattr(provisioning_actions, "_enqueue", lambda operation: ids.append(operation.pk))
    return ids


@pytest.fixture
def tasks_wait(settings: Any) -> None:
    """Tasks are queued, not run: a transactional test commits, and the immediate backend would otherwise
    provision each paid order at its payment, before the test's parallel orders start."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


@pytest.mark.django_db
def test_a_rack_imports_from_csv_with_its_bmc_credentials_encrypted(terms_v1):
    _rack()
    machines = list(Machine.objects.order_by("name"))
    assert [(m.name, m.state, m.rack, m.position, m.macs) for m in machines] == [
        ("m0", "available", "A1", "U10", ["52:54:00:aa:00:00"]),
        ("m1", "available", "A1", "U11", ["52:54:00:aa:00:01"]),
        ("m2", "available", "A1", "U12", ["52:54:00:aa:00:02"]),
    ]
    assert machines[0].bmc == {
        "url": "https://10.9.0.10",
        "username": "admin",
        "password": "secret-0",
        "system": "1",
        "verify_tls": True,
    }
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT bmc FROM provisioning_machine WHERE name = 'm0'")
        stored = str(cursor.fetchone()[0])
    assert "secret-0" not in stored
    assert "10.9.0.10" not in stored
    event = AuditEvent.objects.get(action="machine.imported")
    assert event.data == {"machines": ["m0", "m1", "m2"]}  # no address, no password


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("m9,hkg-rack-a,e3-32g,A1,U1,S,52:54:00:aa:00:09,https://10.9.0.9,admin,pw,1", "exists already"),
        ("x1,hkg-rack-b,e3-32g,A1,U1,S,52:54:00:aa:00:09,https://10.9.0.9,admin,pw,1", "no Redfish host"),
        ("x1,hkg-rack-a,nope,A1,U1,S,52:54:00:aa:00:09,https://10.9.0.9,admin,pw,1", "no hardware profile"),
        ("x1,hkg-rack-a,e3-32g,A1,U1,S,52-54-00,https://10.9.0.9,admin,pw,1", "MAC addresses"),
        ("x1,hkg-rack-a,e3-32g,A1,U1,S,52:54:00:aa:00:09,ftp://10.9.0.9,admin,pw,1", "BMC URL"),
        ("x1,hkg-rack-a,e3-32g,A1,U1,S,52:54:00:aa:00:09,https://10.9.0.9,,pw,1", "BMC user"),
    ],
)
def test_a_bad_row_refuses_the_whole_file_naming_its_line(terms_v1, row, message):
    _rack(machines=0)
    good = "m9,hkg-rack-a,e3-32g,A1,U1,S,52:54:00:aa:00:08,https://10.9.0.8,admin,pw,1\n"
    with pytest.raises(InvalidInput, match=message) as refused:
        machines_import_csv(staff=_staff(), text=HEADER + good + row.replace("m9,", "m9,", 1) + "\n")
    assert "Line 3" in str(refused.value.detail)
    assert not Machine.objects.exists()  # all or nothing: the good first row is not kept either


@pytest.mark.django_db
def test_orders_take_free_machines_and_the_fourth_waits_until_one_is_wiped(
    terms_v1, requested, django_capture_on_commit_callbacks
):
    product = _rack()
    services = [_paid(product, f"c{n}@example.com") for n in range(4)]
    for service in services:
        service_provision(service=service)
    held = dict(
        Machine.objects.filter(server__isnull=False).values_list("name", "server__service__customer__owner__email")
    )
    assert held == {"m0": "c0@example.com", "m1": "c1@example.com", "m2": "c2@example.com"}
    assert set(Machine.objects.values_list("state", flat=True)) == {"reserved"}
    assert len(requested) == 3
    assert Service.objects.get(pk=services[3].pk).status == "provisioning"
    assert MachineWait.objects.get().service_id == services[3].pk
    assert not Server.objects.filter(service=services[3]).exists()

    # The first customer's server is deleted: the driver wipes the machine and hands it back.
    first = Server.objects.get(service=services[0])
    directory = InventoryDirectory(first.host)
    assert directory.machine_for(first.name) == Bmc("https://10.9.0.10", "admin", "secret-0", "1", True)
    with django_capture_on_commit_callbacks(execute=True):  # the assignment task runs after the commit
        directory.release(first.name, wiped=True)
    m0 = Machine.objects.get(name="m0")
    assert (m0.state, m0.server.service_id if m0.server else None) == ("reserved", services[3].pk)
    assert not MachineWait.objects.exists()
    assert len(requested) == 4
    assert machines_assign_waiting() == 0  # nothing left waiting


@pytest.mark.django_db
def test_a_machine_returned_without_a_wipe_goes_to_maintenance_not_to_the_next_order(
    terms_v1, requested, django_capture_on_commit_callbacks
):
    product = _rack(machines=1)
    first, second = _paid(product, "a@example.com"), _paid(product, "b@example.com")
    service_provision(service=first)
    service_provision(service=second)
    server = Server.objects.get(service=first)
    InventoryDirectory(server.host).release(server.name, wiped=False)
    machine = Machine.objects.get()
    assert (machine.state, machine.server_id) == ("maintenance", None)
    assert "without a disk wipe" in machine.note
    assert MachineWait.objects.get().service_id == second.pk  # still waiting
    with pytest.raises(InvalidInput, match="cannot become reserved"):
        machine_set_state(staff=_staff(), machine=machine, state="reserved")
    with django_capture_on_commit_callbacks(execute=True):
        machine_set_state(staff=_staff(), machine=machine, state="available", note="wiped by hand")
    held = Machine.objects.get().server
    assert held is not None
    assert held.service_id == second.pk
    assert AuditEvent.objects.filter(action="machine.state", data__state="available").count() == 1


@pytest.mark.django_db
def test_the_host_driver_reaches_machines_through_the_inventory(terms_v1, requested):
    product = _rack(machines=1)
    service_provision(service=_paid(product, "a@example.com"))
    server = Server.objects.get()
    driver = host_driver(server.host)
    assert driver.directory is not None
    assert list(driver.directory.machines()) == [server.name]
    assert driver.masked_parameters() == {
        "installer_url": "http://boot.example.net/installers/{image}.iso",
        "rescue_url": "",
        "iso_url": "",
        "wipe_url": "",
        "wipe_timeout": "21600",
        "install_timeout": "7200",
        "power_timeout": "300",
    }
    assert Operation.objects.get(service=server.service).kind == "create"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_orders_for_three_free_machines_provision_three_and_leave_seven_waiting(terms_v1, tasks_wait):
    skip_unless_threads_share_the_database()
    product = _rack(machines=3)
    services = [_paid(product, f"p{n}@example.com") for n in range(10)]
    assert set(Service.objects.values_list("status", flat=True)) == {"pending"}  # paid, none provisioned yet
    assert not Machine.objects.filter(server__isnull=False).exists()
    results = run_in_parallel([partial(service_provision, service=service) for service in services])
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert Machine.objects.filter(server__isnull=False).count() == 3
    assert len(set(Machine.objects.values_list("server__service_id", flat=True))) == 3
    assert Server.objects.count() == 3
    assert Operation.objects.filter(kind="create").count() == 3
    assert MachineWait.objects.count() == 7
    assert sorted(Service.objects.values_list("status", flat=True)) == ["provisioning"] * 10
    waiting = set(MachineWait.objects.values_list("service_id", flat=True))
    holding = set(Server.objects.values_list("service_id", flat=True))
    assert waiting | holding == {s.pk for s in services}
    assert not waiting & holding


@pytest.mark.django_db
def test_the_customer_sees_that_a_paid_order_waits_for_a_machine(terms_v1, requested, client):
    from megalayer.conftest import record_sign_in

    product = _rack(machines=0)
    service = _paid(product, "waiting@example.com")
    service_provision(service=service)
    record_sign_in(client, service.customer.owner)
    page = client.get(f"/account/services/{service.public_id}/").content.decode()
    assert "waiting for a free machine of this model in Hong Kong" in page


@pytest.mark.django_db
def test_the_installer_gets_its_seed_by_mac_only_from_the_provisioning_network_while_the_install_runs(
    terms_v1, requested, client, settings
):
    """Issue 19: how the root password, keys and user data reach a bare-metal install (the BMC cannot)."""
    from megalayer.provisioning.actions.runner import _claim

    settings.MEGALAYER_METAL_SEED_NETWORKS = ["10.20.0.0/16"]
    product = _rack(machines=1)
    service = _paid(product, "metal@example.com")
    service.ssh_keys = [KEY]
    service.save(update_fields=["ssh_keys"])
    service_provision(service=service)
    operation = Operation.objects.get(service=service, kind="create")
    url = "/metal/seed/52:54:00:aa:00:00/"
    inside = {"REMOTE_ADDR": "10.20.3.4"}

    assert client.get(url + "user-data", **inside).status_code == 404  # not running yet: nothing to give
    assert _claim(operation.pk, dt.timedelta(minutes=5)) is not None  # the worker runs the install now
    password = Operation.objects.get(pk=operation.pk).secrets["root_password"]

    user_data = client.get(url + "user-data", **inside)
    assert user_data.status_code == 200
    assert user_data["Cache-Control"] == "no-store"
    body = user_data.content.decode()
    server = Server.objects.get(service=service)
    assert body.startswith(f"#cloud-config\nhostname: {server.name}.")
    assert f'password: "{password}"' in body
    assert f'ssh_authorized_keys:\n  - "{KEY}"' in body
    meta = client.get("/metal/seed/52-54-00-AA-00-00/meta-data", **inside).content.decode()
    assert meta.startswith(f"instance-id: {server.name}-{operation.public_id}\n")

    assert client.get(url + "user-data", REMOTE_ADDR="203.0.113.9").status_code == 404  # not the network
    assert client.get("/metal/seed/52:54:00:aa:00:99/user-data", **inside).status_code == 404  # no machine
    assert client.get(url + "vendor-data", **inside).status_code == 404
    assert client.get("/metal/seed/not-a-mac/user-data", **inside).status_code == 404
    served = AuditEvent.objects.filter(action="machine.seed_served")
    assert [(e.data["part"], e.data["from"]) for e in served.order_by("pk")] == [
        ("user-data", "10.20.3.4"),
        ("meta-data", "10.20.3.4"),
    ]
    Operation.objects.filter(pk=operation.pk).update(status="succeeded")  # the install ended
    assert client.get(url + "user-data", **inside).status_code == 404
    assert served.count() == 2

    # The rescue system boots after its operation ended and asks then: served for 15 minutes after.
    rescue = Operation.objects.create(
        service=service,
        kind="rescue_enter",
        status="succeeded",
        idempotency_key="rescue-1",
        secrets={"root_password": "one-time-Rescue-1"},
        finished_at=clock.now() - dt.timedelta(minutes=14),
        created_at=clock.now() - dt.timedelta(minutes=15),
    )
    assert 'password: "one-time-Rescue-1"' in client.get(url + "user-data", **inside).content.decode()
    Operation.objects.filter(pk=rescue.pk).update(finished_at=clock.now() - dt.timedelta(minutes=16))
    assert client.get(url + "user-data", **inside).status_code == 404


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"


@pytest.mark.django_db
def test_a_machine_is_provisioning_from_the_start_of_its_install_and_a_bmc_that_does_not_answer_is_retried(
    terms_v1, requested
):
    from megalayer.provisioning.actions.runner import operation_run

    product = _rack(machines=1)
    Machine.objects.update(bmc={"url": "http://127.0.0.1:9", "username": "admin", "password": "x"})  # nobody
    service = _paid(product, "metal@example.com")
    service_provision(service=service)
    operation = Operation.objects.get(service=service, kind="create")
    assert operation_run(operation_id=operation.pk) == "pending"  # retried later, with back-off
    assert Machine.objects.get().state == "provisioning"
    operation.refresh_from_db()
    assert (operation.status, operation.attempts) == ("pending", 1)
    assert "the BMC did not answer" in operation.error


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_while_one_order_holds_its_machine_another_order_takes_the_next_one_without_waiting(terms_v1, tasks_wait):
    """The lock is on the machine rows alone: an order in the middle of taking a machine (its transaction
    still open) neither blocks another order nor hides the other free machines from it."""
    import threading

    from django.db import connection, transaction

    from megalayer.provisioning.actions.machines import machine_take

    skip_unless_threads_share_the_database()
    product = _rack(machines=2)
    first, second = _paid(product, "first@example.com"), _paid(product, "second@example.com")
    holding, finished = threading.Event(), threading.Event()
    taken: dict[str, str | None] = {}

    def hold() -> None:
        try:
            with transaction.atomic():
                machine = machine_take(first)
                taken["first"] = machine.name if machine else None
                holding.set()
                finished.wait(timeout=60)
        finally:
            holding.set()
            connection.close()

    def take() -> None:
        try:
            holding.wait(timeout=60)
            with transaction.atomic():
                machine = machine_take(second)
                taken["second"] = machine.name if machine else None
        finally:
            finished.set()
            connection.close()

    threads = [threading.Thread(target=hold), threading.Thread(target=take)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert taken == {"first": "m0", "second": "m1"}
    assert not MachineWait.objects.exists()


@pytest.mark.django_db
def test_a_vps_is_never_placed_on_a_rack_of_machines(terms_v1, vps, requested):
    from megalayer.conftest import redfish_host
    from megalayer.provisioning.drivers import BARE_METAL, DRIVERS, driver_class

    importable = []
    for name in DRIVERS:
        try:
            importable.append(driver_class(name))
        except ImportError:  # an optional extra not installed
            continue
    assert {cls.name for cls in importable if cls.needs_inventory} == BARE_METAL & {c.name for c in importable}
    rack = redfish_host(vps.location)
    Host.objects.filter(pk=rack.pk).update(capacity_vcpus=999, capacity_memory_gb=999, capacity_disk_gb=9999)
    Host.objects.exclude(pk=rack.pk).update(status="disabled")
    service = _paid(vps, "vps@example.com")
    service_provision(service=service)
    service.refresh_from_db()
    assert service.status == "failed"
    assert not Server.objects.exists()
