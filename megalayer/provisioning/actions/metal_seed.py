"""The cloud-init seed a bare-metal installer fetches (issue 19).

A hypervisor driver hands the guest its seed on a virtual disk; a BMC cannot. So the operator's unattended
installer (preseed, kickstart, autounattend), booted from the BMC's virtual CD, asks the platform for the
seed of the machine it runs on, by one of that machine's MAC addresses, and writes it into the new system
for cloud-init (the NoCloud datasource reads ``user-data``, ``meta-data`` and ``network-config``). The same
documents as the libvirt seed (``drivers.cloudinit``): hostname, root's password, SSH keys, the customer's
user data in a multi-part archive beside the platform's part, the IPv6 address.

The seed holds a password, so it is served only:
- to the provisioning network (``MEGALAYER_METAL_SEED_NETWORKS``; anything else is told nothing);
- for a machine whose server has an install (create, reinstall) operation **running** now (the Redfish
  driver keeps it running until the installer powers the machine off, so the window is the install itself)
  or entered its rescue system less than 15 minutes ago, with the password still in the operation's
  encrypted secrets;
- and every serving is audited (machine, operation, address asking).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.provisioning.actions.machines import MAC
from megalayer.provisioning.actions.runner import operation_spec
from megalayer.provisioning.choices import MachineState, OperationStatus
from megalayer.provisioning.drivers.cloudinit import seed_network_config, seed_user_data
from megalayer.provisioning.models import Machine, Operation

SEEDED_KINDS = (Operation.Kind.CREATE, Operation.Kind.REINSTALL, Operation.Kind.RESCUE_ENTER)
PARTS = ("user-data", "meta-data", "network-config")
RESCUE_SEED_WINDOW = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class MetalSeed:
    part: str
    body: bytes  # served as text/plain: cloud-init reads the bytes, whatever the type


def _allowed(remote: str) -> bool:
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.MEGALAYER_METAL_SEED_NETWORKS]
    return any(address in network for network in networks if network.version == address.version)


def metal_seed(*, mac: str, part: str, remote: str) -> MetalSeed | None:
    """One document of the seed for the machine with ``mac``, or None (the caller answers 404 whatever the
    reason: an installer learns nothing it may not have, a scanner learns nothing at all)."""
    mac = mac.lower().replace("-", ":")
    if part not in PARTS or not MAC.fullmatch(mac) or not _allowed(remote):
        return None
    # A text match narrows it on every database (JSON containment is PostgreSQL's); the list decides.
    candidates = (
        Machine.objects.select_related("server__service")
        .filter(macs__icontains=mac, server__isnull=False)
        .filter(state__in=(MachineState.RESERVED, MachineState.PROVISIONING, MachineState.IN_SERVICE))
    )
    machine = next((m for m in candidates if mac in m.macs), None)
    if machine is None or machine.server is None:
        return None
    server = machine.server
    # An install runs until the installer has powered the machine off; a rescue operation ends when the
    # rescue system boots, which then asks: its seed stays for RESCUE_SEED_WINDOW after (while the one-time
    # password is still unseen; once shown or the rescue ended, the secrets are gone and so is the seed).
    running = Q(status=OperationStatus.RUNNING)
    booted = Q(
        kind=Operation.Kind.RESCUE_ENTER,
        status=OperationStatus.SUCCEEDED,
        finished_at__gte=clock.now() - RESCUE_SEED_WINDOW,
    )
    operation = (
        Operation.objects.filter(service=server.service, kind__in=SEEDED_KINDS)
        .filter(running | booted)
        .order_by("-pk")
        .first()
    )
    if operation is None or not operation.secrets.get("root_password"):
        return None
    spec = operation_spec(operation, server)
    if part == "user-data":
        body = seed_user_data(spec, spec.root_password)
    elif part == "meta-data":
        body = f"instance-id: {server.name}-{operation.public_id}\nlocal-hostname: {spec.hostname}\n".encode()
    else:
        body = seed_network_config(spec).encode()
    audit_record(
        actor=Actor.system("provisioning"),
        action="machine.seed_served",
        target_type="machine",
        target_id=machine.public_id,
        requirement="TOS-AUDIT-1",
        data={"operation": operation.public_id, "part": part, "from": remote},
    )
    return MetalSeed(part=part, body=body)
