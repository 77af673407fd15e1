"""Physical machines (issue 19): the inventory staff keep, how an order takes a machine, and how a machine
comes back to the pool.

An order for a dedicated server takes one ``available`` machine of its product's hardware profile at its
location. The machine rows are locked with ``FOR UPDATE SKIP LOCKED``: parallel orders each take a
different machine without waiting for one another, and never two orders one machine (the one-to-one
``Machine.server`` is the second guard). An order that finds none waits (``MachineWait``) in the order it
was paid, and is served when a machine becomes available.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.catalog.models import HardwareProfile
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.core.tasks import enqueue_on_commit
from megalayer.provisioning.choices import MACHINE_STATE, MachineState
from megalayer.provisioning.drivers.base import Bmc
from megalayer.provisioning.models import Host, Machine, MachineWait, Server
from megalayer.services.models import Service

SYSTEM = Actor.system("provisioning")
HELD = (MachineState.RESERVED, MachineState.PROVISIONING, MachineState.IN_SERVICE, MachineState.MAINTENANCE)
MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def machine_bmc(machine: Machine) -> Bmc:
    data = machine.bmc
    return Bmc(
        url=str(data.get("url", "")),
        username=str(data.get("username", "")),
        password=str(data.get("password", "")),
        system=str(data.get("system", "")),
        verify_tls=bool(data.get("verify_tls", True)),
    )


class InventoryDirectory:
    """The ``MachineDirectory`` of a Redfish host, over the ``Machine`` table."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def _held(self) -> Any:
        return Machine.objects.filter(host=self.host, state__in=HELD, server__isnull=False).select_related("server")

    def machine_for(self, name: str) -> Bmc | None:
        machine = self._held().filter(server__name=name).first()
        return machine_bmc(machine) if machine else None

    def machines(self) -> dict[str, Bmc]:
        return {m.server.name: machine_bmc(m) for m in self._held() if m.server is not None}

    def release(self, name: str, *, wiped: bool) -> None:
        machine = self._held().filter(server__name=name).first()
        if machine is not None:
            machine_release(machine=machine, wiped=wiped)


# Taking and giving back ----------------------------------------------------------------------------------------


def machine_take(service: Service) -> Machine | None:
    """Reserve a free machine of the service's profile at its location, or None when every one is taken.
    Runs in the caller's transaction; rows other orders are taking are skipped, not waited for."""
    product = service.product
    profile = product.hardware_profile
    if profile is None:
        raise ValueError("only dedicated-server products have a hardware profile")
    machine = (
        # ``of=self``: lock (and skip) machine rows only; locking the joined host row too would make every
        # other order skip every machine of that host while one order holds it.
        Machine.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(profile=profile, host__location_id=product.location_id)
        .filter(state=MachineState.AVAILABLE, server__isnull=True, host__status=Host.Status.ACTIVE)
        .order_by("pk")
        .first()
    )
    if machine is None:
        MachineWait.objects.get_or_create(
            service=service,
            defaults={
                "profile": profile,
                "location_id": product.location_id,
                "created_at": clock.now(),
            },
        )
        return None
    MACHINE_STATE.move(machine, MachineState.RESERVED, changed_at=clock.now())
    MachineWait.objects.filter(service=service).delete()
    return machine


def machine_bind(machine: Machine, server: Server) -> None:
    Machine.objects.filter(pk=machine.pk).update(server=server)
    audit_record(
        actor=SYSTEM,
        action="machine.reserved",
        target_type="machine",
        target_id=machine.public_id,
        requirement="TOS-ORDER-1",
        data={"server": server.name, "service": server.service.public_id},
    )


def machine_installing(server: Server) -> None:
    """A worker starts the create operation: the reserved machine is being installed."""
    machine = Machine.objects.filter(server=server, state=MachineState.RESERVED).first()
    if machine is not None:
        MACHINE_STATE.move(machine, MachineState.PROVISIONING, changed_at=clock.now())


def machine_installed(server: Server) -> None:
    """The create operation succeeded: the machine is in service."""
    machine = Machine.objects.filter(server=server).first()
    if machine is not None and machine.state != MachineState.IN_SERVICE:
        MACHINE_STATE.move(machine, MachineState.IN_SERVICE, changed_at=clock.now())


def machine_failed(server: Server, error: str) -> None:
    """A step on the machine failed for good: maintenance, with the reason (staff are alerted by the runner)."""
    machine = Machine.objects.filter(server=server).first()
    if machine is None or machine.state == MachineState.MAINTENANCE:
        return
    MACHINE_STATE.move(machine, MachineState.MAINTENANCE, changed_at=clock.now(), note=error[:300])
    audit_record(
        actor=SYSTEM,
        action="machine.maintenance",
        target_type="machine",
        target_id=machine.public_id,
        requirement="TOS-AUDIT-1",
        data={"server": server.name, "error": error[:300]},
    )


def machine_release(*, machine: Machine, wiped: bool) -> None:
    """The server on the machine is gone. Only a wiped machine goes back to the pool (TOS-DEL-1: the next
    customer never gets the last one's data); an unwiped one waits in maintenance for staff."""
    now = clock.now()
    with transaction.atomic():
        machine = Machine.objects.select_for_update().get(pk=machine.pk)
        server = machine.server
        if wiped:
            MACHINE_STATE.move(machine, MachineState.AVAILABLE, changed_at=now, server=None, note="")
        else:
            note = "Returned without a disk wipe: wipe it before it is given out again."
            if machine.state != MachineState.MAINTENANCE:
                MACHINE_STATE.move(machine, MachineState.MAINTENANCE, changed_at=now, note=note)
            Machine.objects.filter(pk=machine.pk).update(server=None, note=note)
        audit_record(
            actor=SYSTEM,
            action="machine.released",
            target_type="machine",
            target_id=machine.public_id,
            requirement="TOS-DEL-1",
            data={"server": server.name if server else "", "wiped": wiped},
        )
    if wiped:
        _assign_soon()


def _assign_soon() -> None:
    from megalayer.provisioning.tasks import machines_assign_task

    enqueue_on_commit(machines_assign_task)


# Staff ---------------------------------------------------------------------------------------------------------


def machine_set_state(*, staff: User, machine: Machine, state: str, note: str = "") -> Machine:
    """Staff take a machine out for maintenance, declare it broken, or give it back to the pool."""
    if state not in MachineState.values:
        raise InvalidInput("Choose a state.", field="state")
    if state == MachineState.AVAILABLE and machine.server_id is not None:
        raise InvalidInput("The machine still holds a server; delete the server first.", field="state")
    with transaction.atomic():
        machine = Machine.objects.select_for_update().get(pk=machine.pk)
        if not MACHINE_STATE.allows(machine.state, state):
            raise InvalidInput(f"A machine that is {machine.get_state_display().lower()} cannot become {state}.")
        MACHINE_STATE.move(machine, state, changed_at=clock.now(), note=note[:300])
        audit_record(
            actor=Actor.for_user(staff),
            action="machine.state",
            target_type="machine",
            target_id=machine.public_id,
            requirement="TOS-AUDIT-1",
            data={"state": state, "note": note[:300]},
        )
        if state == MachineState.AVAILABLE:
            _assign_soon()
    return machine


CSV_COLUMNS = ("name", "host", "profile", "rack", "position", "serial", "macs", "bmc_url", "bmc_username")
CSV_OPTIONAL = ("bmc_password", "bmc_system", "bmc_verify_tls")


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    names: tuple[str, ...]


def _bmc_url(value: str, line: int) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"Line {line}: the BMC URL must be http(s)://address.", field="bmc_url")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", parts.hostname):
            raise InvalidInput(f"Line {line}: the BMC address is not valid.", field="bmc_url") from None
    return value.rstrip("/")


def machines_import_csv(*, staff: User, text: str) -> ImportResult:
    """Register a rack of machines from CSV (one row each; columns ``CSV_COLUMNS`` and optionally
    ``CSV_OPTIONAL``). All or nothing: the first bad row refuses the whole file, naming its line and field."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"The CSV lacks the column(s) {', '.join(missing)}.", field="file")
    hosts = {h.name: h for h in Host.objects.filter(driver="redfish")}
    profiles = {p.code: p for p in HardwareProfile.objects.all()}
    now = clock.now()
    rows: list[Machine] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        values = {k: (v or "").strip() for k, v in row.items() if k}
        name = values["name"]
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            raise InvalidInput(f"Line {line}: name the machine (letters, digits, . _ -).", field="name")
        if name in seen or Machine.objects.filter(name=name).exists():
            raise InvalidInput(f"Line {line}: a machine named {name} exists already.", field="name")
        seen.add(name)
        if values["host"] not in hosts:
            raise InvalidInput(f"Line {line}: no Redfish host named {values['host']!r}.", field="host")
        if values["profile"] not in profiles:
            raise InvalidInput(f"Line {line}: no hardware profile {values['profile']!r}.", field="profile")
        macs = [m.strip().lower() for m in values["macs"].replace(";", " ").split() if m.strip()]
        if not macs or not all(MAC.fullmatch(m) for m in macs):
            raise InvalidInput(f"Line {line}: list the MAC addresses (aa:bb:cc:dd:ee:ff).", field="macs")
        if not values["bmc_username"]:
            raise InvalidInput(f"Line {line}: the BMC user is missing.", field="bmc_username")
        rows.append(
            Machine(
                name=name,
                host=hosts[values["host"]],
                profile=profiles[values["profile"]],
                rack=values["rack"][:40],
                position=values["position"][:16],
                serial=values["serial"][:64],
                macs=macs,
                bmc={
                    "url": _bmc_url(values["bmc_url"], line),
                    "username": values["bmc_username"],
                    "password": values.get("bmc_password", ""),
                    "system": values.get("bmc_system", ""),
                    "verify_tls": values.get("bmc_verify_tls", "yes").lower() not in ("no", "false", "0"),
                },
                created_at=now,
                changed_at=now,
            )
        )
    if not rows:
        raise InvalidInput("The CSV holds no machines.", field="file")
    with transaction.atomic():
        for machine in rows:
            machine.save()
        audit_record(
            actor=Actor.for_user(staff),
            action="machine.imported",
            target_type="host",
            target_id=rows[0].host.public_id,
            requirement="TOS-AUDIT-1",
            data={"machines": [m.name for m in rows]},  # never the BMC's address or credentials
        )
        _assign_soon()
    return ImportResult(created=len(rows), names=tuple(m.name for m in rows))
