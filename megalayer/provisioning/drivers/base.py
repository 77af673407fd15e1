"""The driver contract: what the platform asks of a hypervisor, and nothing of the platform's own.

Drivers are adapters. They take and return frozen dataclasses (never ORM
models), hold no business rules (quotas, fees and statuses live in
``provisioning`` and ``services``), say what they can do with capability
flags, and fail with typed errors so the operation runner knows whether to
retry (``RetryableError``), give up at once (``TerminalError``) or treat the
machine as gone (``ServerNotFound``).

Two rules make retries safe. ``create`` is idempotent by ``ServerSpec.name``:
a machine of that name that already exists is returned, never duplicated, so a
create retried after a timeout or a killed worker never makes a second
machine. ``destroy`` of a machine that is already gone succeeds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import ClassVar, Protocol, TypeVar

T = TypeVar("T")


class Capability(StrEnum):
    """What a driver supports beyond the core (create, destroy, state, list, power, reinstall)."""

    SNAPSHOTS = "snapshots"
    TRAFFIC = "traffic"
    SUSPEND_NETWORK = "suspend_network"  # suspension cuts the network, the machine keeps running
    PAUSE = "pause"  # suspension pauses the machine (when the network cannot be cut)
    SUSPEND_POWER_OFF = "suspend_power_off"  # suspension powers the machine off, disks kept (bare metal)
    EVIDENCE_COPY = "evidence_copy"  # a read-only copy of the disk for a legal hold (TOS-HOLD-1)
    WIPE = "wipe"  # destroy overwrites the disk before freeing it
    CLOUD_INIT = "cloud_init"  # hostname, password and keys reach the guest through cloud-init
    USER_DATA = "user_data"  # the customer's own cloud-init user data reaches the guest too (issue 18)
    RESCUE = "rescue"  # boot a rescue system with a one-time password, and back (issue 18)
    ISO = "iso"  # insert an installer ISO from the operator's list and boot from it (issue 18)
    CONSOLE = "console"  # a VNC endpoint the console proxy can reach (issue 18)
    INVENTORY = "inventory"  # reads a physical machine's hardware from its BMC (bare metal, issue 19)
    SHAPING = "shaping"  # limit the machine's bandwidth (past its traffic allowance, TOS-TRAFFIC-1)


class PowerState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
    UNKNOWN = "unknown"


# Errors ---------------------------------------------------------------------------------------------------------


class DriverError(Exception):
    """A driver failure. ``retryable`` tells the operation runner whether another attempt may succeed."""

    retryable: ClassVar[bool] = False


class RetryableError(DriverError):
    """Transient: a timeout, a busy host, a lost connection. Retried with back-off."""

    retryable = True


class TerminalError(DriverError):
    """Retrying cannot help: bad parameters, no capacity, an image that does not exist."""


class ServerNotFound(TerminalError):
    """The machine does not exist on the host."""


class Unsupported(TerminalError):
    """The driver lacks the capability the call needs."""


def ipv6_own_address(prefix: str) -> str:
    """The machine's own address in a delegated prefix: its first host address, with the prefix length
    ("2001:db8:1:2::/64" → "2001:db8:1:2::1/64"); the rest of the prefix is routed to it."""
    network = ipaddress.IPv6Network(prefix, strict=False)
    return f"{network.network_address + 1}/{network.prefixlen}"


# Data in and out ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parameter:
    """A setting of a host for its driver (URI, node, token…). Secret ones are never shown or logged."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: str = ""
    help: str = ""
    # A regular expression the whole value must match (issue 14: every host parameter is validated, since
    # staff type them and drivers pass them on to hypervisors); empty: the driver's ``check`` decides.
    pattern: str = ""


# What most names on a hypervisor look like (pools, networks, nodes, storages, bridges).
NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An OS image as the driver knows it: ``code`` names the template or base volume on the host."""

    code: str
    windows: bool = False


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """The machine to build, from the plan. ``name`` is the platform's stable key for it."""

    name: str
    hostname: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    image: ImageRef
    addresses: tuple[str, ...] = ()
    root_password: str = field(default="", repr=False)
    ssh_keys: tuple[str, ...] = ()
    # The customer's cloud-init user data ("#cloud-config" YAML or a "#!" script), validated by the platform;
    # drivers with CLOUD_INIT pass it to the guest beside their own configuration. It may hold secrets.
    user_data: str = field(default="", repr=False)
    # Delegated IPv6 prefixes ("2001:db8:1:2::/64"): the driver routes them to the machine, which takes the
    # prefix's first host address (::1) as its own.
    ipv6_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the host says about a machine. ``disk_id`` changes whenever the disk is replaced (reinstall)."""

    name: str
    power: PowerState
    image: str
    network_suspended: bool = False
    disk_id: str = ""
    rescue: bool = False  # booted into the rescue system
    iso: str = ""  # the code of the inserted ISO, if any


@dataclass(frozen=True, slots=True)
class IsoRef:
    """An installer ISO from the operator's list: ``code`` names the image on the host (``<code>.iso``)."""

    code: str


@dataclass(frozen=True, slots=True)
class ConsoleEndpoint:
    """Where the machine's graphical console listens (RFB/VNC), as the console proxy reaches it. Listeners
    are bound to the management network only: the proxy, not the customer, connects to them."""

    host: str
    port: int
    protocol: str = "vnc"


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    name: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class TrafficCounters:
    """Bytes since the machine's interface was created; the platform takes differences."""

    rx_bytes: int
    tx_bytes: int


@dataclass(frozen=True, slots=True)
class EvidenceCopy:
    """A read-only copy of a machine's disk kept for a legal hold."""

    name: str
    location: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Bmc:
    """Bare metal (issue 19): how to reach one machine: its BMC's Redfish service and the system's id there."""

    url: str  # "https://10.0.7.21" (the service root /redfish/v1 is added)
    username: str
    password: str = field(repr=False)
    system: str = ""  # the ComputerSystem's id; empty: the BMC's only system
    verify_tls: bool = True


class MachineDirectory(Protocol):
    """The platform's inventory as the driver sees it (implemented over the ``Machine`` table)."""

    def machine_for(self, name: str) -> Bmc | None:
        """The machine given to the server ``name`` (reserved at order or in service), or None."""

    def machines(self) -> dict[str, Bmc]:
        """Every machine of this host that a server holds, by server name."""

    def release(self, name: str, *, wiped: bool) -> None:
        """The server is gone: a wiped machine may be given to the next order, an unwiped one may not."""


@dataclass(frozen=True, slots=True)
class MachineInventory:
    """What the BMC says the machine is, compared with its hardware profile before it is given out."""

    uuid: str
    manufacturer: str
    model: str
    serial: str
    cpu_cores: int
    memory_gib: Decimal  # as the BMC reports it (Redfish's TotalSystemMemoryGiB), read without float rounding
    macs: tuple[str, ...]


# The contract ---------------------------------------------------------------------------------------------------


class Driver(ABC):
    """One hypervisor host. Instances are cheap; a driver may cache connections per host."""

    name: ClassVar[str]
    label: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    # Bare metal: built with the platform's ``MachineDirectory`` (``directory=``), which says which machine
    # holds which server and how to reach its BMC.
    needs_inventory: ClassVar[bool] = False
    timeout: float = 120.0

    def __init__(
        self, params: Mapping[str, str], *, timeout: float | None = None, directory: MachineDirectory | None = None
    ) -> None:
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise TerminalError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}")
        values = {p.name: str(params.get(p.name, p.default) or p.default) for p in self.parameters}
        missing = [p.name for p in self.parameters if p.required and not values[p.name]]
        if missing:
            raise TerminalError(f"{self.name}: missing parameter(s) {', '.join(missing)}")
        for p in self.parameters:
            if p.pattern and values[p.name] and not re.fullmatch(p.pattern, values[p.name]):
                raise TerminalError(f"{self.name}: {p.label} is not valid ({p.help or p.name})")
        self.params: dict[str, str] = values
        self.directory = directory
        self.check()
        if timeout is not None:
            self.timeout = timeout

    def check(self) -> None:  # noqa: B027 (a hook: most drivers need no check beyond the patterns)
        """Checks of the parameters beyond their patterns (raise ``TerminalError``); run on every load."""

    # What the driver can do -----------------------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset()

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise Unsupported(f"the {self.name} driver does not support {capability.value}")

    def seconds(self, parameter: str) -> Decimal:
        """A duration parameter in seconds, parsed exactly like every number an operator types here
        (``time.sleep`` takes the Decimal as it is). "nan", "inf" and negatives are refused: a wait
        must end."""
        try:
            value = Decimal(str(self.params[parameter] or 0).strip())
        except InvalidOperation as error:
            raise TerminalError(f"{self.name}: {parameter} must be a number of seconds") from error
        if not value.is_finite():
            raise TerminalError(f"{self.name}: {parameter} must be a number of seconds")
        if value < 0:
            raise TerminalError(f"{self.name}: {parameter} must not be negative")
        return value

    @staticmethod
    def pause(seconds: Decimal) -> None:
        """Wait: the one place a duration becomes the binary number the operating system takes."""
        time.sleep(float(seconds))

    def masked_parameters(self) -> dict[str, str]:
        """The parameters as they may be shown: secrets replaced, so no page or log ever holds them."""
        secret = {p.name for p in self.parameters if p.secret}
        return {k: ("••••••" if k in secret and v else v) for k, v in self.params.items()}

    # The core -------------------------------------------------------------------------------------------------

    @abstractmethod
    def create(self, spec: ServerSpec) -> ServerInfo:
        """Build and start the machine. Idempotent by ``spec.name``: an existing machine is returned."""

    @abstractmethod
    def destroy(self, name: str, *, wipe: bool = True) -> bool:
        """Stop and delete the machine and its disk; returns whether the disk was wiped. Gone already is fine."""

    @abstractmethod
    def state(self, name: str) -> ServerInfo:
        """Raises ``ServerNotFound`` when there is no such machine."""

    @abstractmethod
    def list_servers(self) -> list[ServerInfo]:
        """Every machine the platform made on this host (for reconciliation)."""

    @abstractmethod
    def power_on(self, name: str) -> ServerInfo: ...

    @abstractmethod
    def power_off(self, name: str, *, soft_timeout: float = 60.0) -> ServerInfo:
        """ACPI shutdown first; if the guest has not stopped within ``soft_timeout`` seconds, pull the plug."""

    @abstractmethod
    def reboot(self, name: str) -> ServerInfo: ...

    @abstractmethod
    def reinstall(
        self,
        name: str,
        image: ImageRef,
        *,
        root_password: str = "",
        ssh_keys: tuple[str, ...] = (),
        user_data: str = "",
    ) -> ServerInfo:
        """Erase the disk, lay down ``image`` afresh and start the machine; ``ssh_keys`` go to root's
        ``authorized_keys`` and ``user_data`` to cloud-init where the driver writes cloud-init (issue 18)."""

    @abstractmethod
    def suspend(self, name: str) -> ServerInfo:
        """Cut the network (``SUSPEND_NETWORK``), pause the machine (``PAUSE``) or power it off
        (``SUSPEND_POWER_OFF``, bare metal); the disk is kept."""

    @abstractmethod
    def resume(self, name: str) -> ServerInfo: ...

    # Optional, by capability ----------------------------------------------------------------------------------

    def snapshot_create(self, name: str, snapshot: str) -> SnapshotInfo:
        self.require(Capability.SNAPSHOTS)
        raise NotImplementedError

    def snapshot_list(self, name: str) -> list[SnapshotInfo]:
        self.require(Capability.SNAPSHOTS)
        raise NotImplementedError

    def snapshot_restore(self, name: str, snapshot: str) -> ServerInfo:
        self.require(Capability.SNAPSHOTS)
        raise NotImplementedError

    def snapshot_delete(self, name: str, snapshot: str) -> None:
        self.require(Capability.SNAPSHOTS)
        raise NotImplementedError

    def traffic(self, name: str) -> TrafficCounters:
        self.require(Capability.TRAFFIC)
        raise NotImplementedError

    def evidence_copy(self, name: str, label: str) -> EvidenceCopy:
        self.require(Capability.EVIDENCE_COPY)
        raise NotImplementedError

    def rescue_enter(self, name: str, *, root_password: str) -> ServerInfo:
        """Reboot into the rescue system, whose root password is ``root_password``; the disk is untouched."""
        self.require(Capability.RESCUE)
        raise NotImplementedError

    def rescue_exit(self, name: str) -> ServerInfo:
        """Reboot from the machine's own disk again."""
        self.require(Capability.RESCUE)
        raise NotImplementedError

    def iso_insert(self, name: str, iso: IsoRef) -> ServerInfo:
        """Insert the ISO and boot from it first from the next start on (the machine is restarted)."""
        self.require(Capability.ISO)
        raise NotImplementedError

    def iso_eject(self, name: str) -> ServerInfo:
        """Remove the ISO; the machine boots from its disk again from the next start on."""
        self.require(Capability.ISO)
        raise NotImplementedError

    def bandwidth_limit(self, name: str, mbps: int | None) -> ServerInfo:
        """Limit the machine's interface to ``mbps`` each way; None lifts the limit."""
        self.require(Capability.SHAPING)
        raise NotImplementedError

    def read_inventory(self, bmc: Bmc) -> MachineInventory:
        """The hardware of a physical machine as its BMC reports it (checked against its profile)."""
        self.require(Capability.INVENTORY)
        raise NotImplementedError

    def console(self, name: str) -> ConsoleEndpoint:
        """Where the running machine's console listens now (it may change at every start)."""
        self.require(Capability.CONSOLE)
        raise NotImplementedError

    # Helpers for drivers --------------------------------------------------------------------------------------

    def wait_for(self, check: Callable[[], T | None], *, timeout: float, interval: float = 0.5) -> T | None:
        """Poll ``check`` until it returns a value or ``timeout`` seconds pass (then None)."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value is not None or time.monotonic() >= deadline:
                return value
            time.sleep(interval)
