"""Hypervisor drivers behind one contract (``base.Driver``). ``driver_for`` builds one from a host's record."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module

from megalayer.provisioning.drivers.base import Driver, TerminalError

# name → "module:Class"; imported on use, so a missing optional extra only affects hosts that need it.
DRIVERS: dict[str, str] = {
    "sandbox": "megalayer.provisioning.drivers.sandbox:SandboxDriver",
    "libvirt": "megalayer.provisioning.drivers.libvirt_driver:LibvirtDriver",
    "proxmox": "megalayer.provisioning.drivers.proxmox:ProxmoxDriver",
    "redfish": "megalayer.provisioning.drivers.redfish:RedfishDriver",
}

# Drivers of physical machines (``Driver.needs_inventory``): their hosts are racks, which orders take a machine
# from, never room for a virtual machine.
BARE_METAL = frozenset({"redfish"})


def driver_class(name: str) -> type[Driver]:
    if name not in DRIVERS:
        raise TerminalError(f"no driver named {name!r}")
    module, _, cls = DRIVERS[name].partition(":")
    found: type[Driver] = getattr(import_module(module), cls)
    return found


def driver_for(name: str, params: Mapping[str, str], *, timeout: float | None = None) -> Driver:
    return driver_class(name)(params, timeout=timeout)
