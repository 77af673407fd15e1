"""Hosts: their drivers, their settings (secrets encrypted at rest), and reconciliation of what the driver
sees with what the database says."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.provisioning.actions.machines import InventoryDirectory
from megalayer.provisioning.drivers import DRIVERS, driver_class, driver_for
from megalayer.provisioning.drivers.base import (
    Driver,
    DriverError,
    TerminalError,
)
from megalayer.provisioning.models import Host, Operation, Server

SYSTEM = Actor.system("provisioning")
OPEN = (Operation.Status.PENDING, Operation.Status.RUNNING)


def host_driver(host: Host) -> Driver:
    params = {k: str(v) for k, v in host.parameters.items()}
    cls = driver_class(host.driver)
    if cls.needs_inventory:  # bare metal: the driver reaches each machine through the inventory
        return cls(params, directory=InventoryDirectory(host))
    return driver_for(host.driver, params)


def host_driver_loaded(host: Host) -> tuple[Driver | None, str]:
    """The host's driver, or None and why not (bad parameters, a missing optional extra): pages and lists
    still show a host whose driver cannot load."""
    try:
        return host_driver(host), ""
    except (DriverError, ImportError) as error:
        return None, str(error)


def host_save(
    *,
    staff: User,
    name: str,
    driver: str,
    location: Any,
    parameters: dict[str, str],
    capacity_vcpus: int,
    capacity_memory_gb: int,
    capacity_disk_gb: int,
    status: str = Host.Status.ACTIVE,
    host: Host | None = None,
) -> Host:
    """Create or change a host; the parameters are checked against the driver's declaration first.

    A secret parameter left empty when editing keeps its stored value (forms never show secrets).
    """

    if driver not in DRIVERS:
        raise InvalidInput("Choose a driver.", field="driver")
    if not name.strip():
        raise InvalidInput("Name the host.", field="name")
    cls = driver_class(driver)
    if host is not None:
        for parameter in cls.parameters:
            if parameter.secret and not parameters.get(parameter.name):
                parameters[parameter.name] = str(host.parameters.get(parameter.name, ""))
    clean = {k: v for k, v in parameters.items() if v != ""}
    try:
        cls(clean)
    except TerminalError as error:
        raise InvalidInput(str(error), field="parameters") from error
    for field, value in (
        ("capacity_vcpus", capacity_vcpus),
        ("capacity_memory_gb", capacity_memory_gb),
        ("capacity_disk_gb", capacity_disk_gb),
    ):
        if value <= 0:
            raise InvalidInput("Capacity must be positive.", field=field)
    values = {
        "name": name.strip(),
        "driver": driver,
        "location": location,
        "parameters": clean,
        "capacity_vcpus": capacity_vcpus,
        "capacity_memory_gb": capacity_memory_gb,
        "capacity_disk_gb": capacity_disk_gb,
        "status": status,
    }
    with transaction.atomic():
        if host is None:
            host = Host.objects.create(created_at=clock.now(), **values)
        else:
            Host.objects.filter(pk=host.pk).update(**values)
            host.refresh_from_db()
        audit_record(
            actor=Actor.for_user(staff),
            action="host.saved",
            target_type="host",
            target_id=host.public_id,
            requirement="TOS-AUDIT-1",
            data={"name": host.name, "driver": driver, "parameters": host_driver(host).masked_parameters()},
        )
    return host


def host_reconcile(*, host: Host) -> list[dict[str, str]]:
    """Compare the host's machines with the database; record and return the drift (never fixes it blindly)."""
    driver = host_driver(host)
    now = clock.now()
    try:
        machines = {m.name: m for m in driver.list_servers()}
    except DriverError as error:
        unreachable = [{"kind": "unreachable", "server": "", "detail": str(error)[:300]}]
        Host.objects.filter(pk=host.pk).update(last_reconciled_at=now, drift=unreachable)
        return unreachable
    expected = {s.name: s for s in Server.objects.filter(host=host, destroyed_at__isnull=True, built_at__isnull=False)}
    drift: list[dict[str, str]] = []
    for name in sorted(set(machines) - set(expected)):
        if not Server.objects.filter(name=name, destroyed_at__isnull=True).exists():
            drift.append({"kind": "unknown_machine", "server": name, "detail": "on the host, not in the database"})
    for name, server in sorted(expected.items()):
        machine = machines.get(name)
        if machine is None:
            drift.append({"kind": "missing_machine", "server": name, "detail": "in the database, not on the host"})
            continue
        if (
            machine.power.value != server.power
            and not Operation.objects.filter(service=server.service_id, status__in=OPEN).exists()
        ):
            drift.append(
                {"kind": "power", "server": name, "detail": f"host says {machine.power.value}, database {server.power}"}
            )
            Server.objects.filter(pk=server.pk).update(power=machine.power.value)
        Server.objects.filter(pk=server.pk).update(last_seen_at=now)
    Host.objects.filter(pk=host.pk).update(last_reconciled_at=now, drift=drift)
    if drift:
        audit_record(
            actor=SYSTEM,
            action="host.drift",
            target_type="host",
            target_id=host.public_id,
            requirement="TOS-AUDIT-1",
            data={"drift": drift[:50]},
        )
    return drift


def hosts_reconcile() -> dict[str, int]:
    counts = {"hosts": 0, "drift": 0}
    for host in Host.objects.exclude(status=Host.Status.DISABLED):
        counts["hosts"] += 1
        counts["drift"] += len(host_reconcile(host=host))
    return counts
