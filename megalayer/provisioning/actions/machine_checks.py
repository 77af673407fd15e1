"""Checking a physical machine's hardware against its profile, through its BMC (issue 19)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.provisioning.actions.hosts import host_driver
from megalayer.provisioning.actions.machines import machine_bmc
from megalayer.provisioning.choices import MACHINE_STATE, MachineState
from megalayer.provisioning.drivers.base import DriverError, MachineInventory
from megalayer.provisioning.models import Machine


def hardware_differences(machine: Machine, found: MachineInventory) -> list[str]:
    """Where the BMC's report differs from the machine's profile and registered MACs. Memory may read a
    little under what was installed (firmware reserves some): 5% or 1 GiB, whichever is more, is allowed."""
    profile = machine.profile
    problems = []
    if found.cpu_cores != profile.cpu_cores:
        problems.append(f"CPU cores: {found.cpu_cores} reported, {profile.cpu_cores} in the profile")
    allowed = max(Decimal(1), profile.memory_gb * Decimal("0.05"))
    if abs(found.memory_gib - profile.memory_gb) > allowed:
        problems.append(f"memory: {found.memory_gib:g} GiB reported, {profile.memory_gb} GB in the profile")
    missing = sorted(set(machine.macs) - set(found.macs))
    if missing:
        problems.append(f"MACs not reported by the BMC: {', '.join(missing)}")
    return problems


def machine_inspect(*, machine: Machine, actor: Actor) -> list[str]:
    """Read the machine's hardware from its BMC and compare it with its profile (issue 19). An available
    machine that differs goes to maintenance with the differences, so no order gets a machine that is not
    what it bought; one that cannot be reached is reported and left as it is. Returns the differences."""
    try:
        found = host_driver(machine.host).read_inventory(machine_bmc(machine))
    except DriverError as error:
        raise InvalidInput(f"{machine.name}: {error}", field="machine") from error
    problems = hardware_differences(machine, found)
    now = clock.now()
    with transaction.atomic():
        machine = Machine.objects.select_for_update().get(pk=machine.pk)
        Machine.objects.filter(pk=machine.pk).update(
            hardware={
                "uuid": found.uuid,
                "manufacturer": found.manufacturer,
                "model": found.model,
                "serial": found.serial,
                "cpu_cores": found.cpu_cores,
                "memory_gib": str(found.memory_gib),  # JSON has no decimal type: kept exact as text
                "macs": list(found.macs),
            },
            inspected_at=now,
        )
        if problems and machine.state == MachineState.AVAILABLE:
            MACHINE_STATE.move(machine, MachineState.MAINTENANCE, changed_at=now, note="; ".join(problems)[:300])
        audit_record(
            actor=actor,
            action="machine.inspected",
            target_type="machine",
            target_id=machine.public_id,
            requirement="TOS-AUDIT-1",
            data={"differences": problems},
        )
    return problems
