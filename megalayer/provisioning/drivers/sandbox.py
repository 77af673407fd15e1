"""The sandbox driver: machines that exist only as database rows. The demo's default, and the
platform's own test double for everything above the driver (with fault injection).

It behaves like a host: names are unique per pool, a create with an existing
name returns that machine, reinstall replaces the disk (a new ``disk_id``),
traffic grows with time. ``latency_seconds`` makes each call take that long,
so the client area's progress display can be seen working. Faults queued with
``sandbox_fault_add`` make the next calls of one action fail, retryably or
not, which is how staff rehearse and tests prove the operation runner.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from megalayer.core import clock
from megalayer.core.ids import new_public_id
from megalayer.provisioning.drivers.base import (
    NAME,
    Capability,
    ConsoleEndpoint,
    Driver,
    EvidenceCopy,
    ImageRef,
    IsoRef,
    Parameter,
    PowerState,
    RetryableError,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
    SnapshotInfo,
    TerminalError,
    TrafficCounters,
)
from megalayer.provisioning.models import SandboxFault, SandboxMachine

# Bytes a second a sandbox machine "moves", so the traffic chart has something to show.
RX_PER_SECOND = 180_000
TX_PER_SECOND = 60_000


class SandboxDriver(Driver):
    name = "sandbox"
    label = "Sandbox (no real machines: state in the database)"
    parameters = (
        Parameter(
            "pool", "Pool", required=False, default="default", help="Machines are unique per pool.", pattern=NAME
        ),
        Parameter("latency_seconds", "Seconds per call", required=False, default="0"),
        Parameter(
            "console_address",
            "Console (host:port)",
            required=False,
            help="A VNC server every sandbox machine's console shows (e.g. a QEMU started with -vnc); "
            "empty: no console",
            pattern=r"[A-Za-z0-9.-]{1,253}:[0-9]{1,5}|\[[0-9A-Fa-f:]+\]:[0-9]{1,5}",
        ),
    )

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(
            {
                Capability.SNAPSHOTS,
                Capability.TRAFFIC,
                Capability.SUSPEND_NETWORK,
                Capability.EVIDENCE_COPY,
                Capability.WIPE,
                Capability.CLOUD_INIT,
                Capability.USER_DATA,
                Capability.RESCUE,
                Capability.ISO,
                Capability.SHAPING,
            }
            | ({Capability.CONSOLE} if self.params["console_address"] else set())
        )

    @property
    def pool(self) -> str:
        return self.params["pool"]

    def _call(self, action: str) -> None:
        """Latency, then any fault queued for this action (consumed one per call)."""
        latency = self.seconds("latency_seconds")
        if latency > 0:
            self.pause(min(latency, Decimal(str(self.timeout))))
        with transaction.atomic():
            fault = (
                SandboxFault.objects.select_for_update()
                .filter(pool=self.pool, action__in=[action, "*"], remaining__gt=0)
                .order_by("pk")
                .first()
            )
            if fault is None:
                return
            SandboxFault.objects.filter(pk=fault.pk).update(remaining=fault.remaining - 1)
        message = fault.message or f"sandbox fault injected into {action}"
        if fault.error == SandboxFault.Error.RETRYABLE:
            raise RetryableError(message)
        raise TerminalError(message)

    def _get(self, name: str) -> SandboxMachine:
        machine = SandboxMachine.objects.filter(pool=self.pool, name=name).first()
        if machine is None:
            raise ServerNotFound(f"no sandbox machine {name!r} in pool {self.pool!r}")
        return machine

    @staticmethod
    def _info(machine: SandboxMachine) -> ServerInfo:
        return ServerInfo(
            name=machine.name,
            power=PowerState(machine.power),
            image=machine.image,
            network_suspended=machine.network_suspended,
            disk_id=machine.disk_id,
            rescue=machine.rescue,
            iso=machine.iso,
        )

    def _set(self, name: str, **fields: object) -> ServerInfo:
        machine = self._get(name)
        SandboxMachine.objects.filter(pk=machine.pk).update(**fields)
        machine.refresh_from_db()
        return self._info(machine)

    # The core -------------------------------------------------------------------------------------------------

    def create(self, spec: ServerSpec) -> ServerInfo:
        self._call("create")
        machine, _ = SandboxMachine.objects.get_or_create(
            pool=self.pool,
            name=spec.name,
            defaults={
                "power": PowerState.RUNNING,
                "image": spec.image.code,
                "disk_id": new_public_id("disk"),
                "vcpus": spec.vcpus,
                "memory_mib": spec.memory_mib,
                "disk_gib": spec.disk_gib,
                "authorized_keys": list(spec.ssh_keys),
                "user_data": spec.user_data,
                "ipv6_prefixes": list(spec.ipv6_prefixes),
                "created_at": clock.now(),
            },
        )
        return self._info(machine)

    def destroy(self, name: str, *, wipe: bool = True) -> bool:
        self._call("destroy")
        SandboxMachine.objects.filter(pool=self.pool, name=name).delete()
        return wipe

    def state(self, name: str) -> ServerInfo:
        self._call("state")
        return self._info(self._get(name))

    def list_servers(self) -> list[ServerInfo]:
        self._call("list")
        return [self._info(m) for m in SandboxMachine.objects.filter(pool=self.pool).order_by("name")]

    def power_on(self, name: str) -> ServerInfo:
        self._call("power_on")
        return self._set(name, power=PowerState.RUNNING)

    def power_off(self, name: str, *, soft_timeout: float = 60.0) -> ServerInfo:
        self._call("power_off")
        return self._set(name, power=PowerState.STOPPED)

    def reboot(self, name: str) -> ServerInfo:
        self._call("reboot")
        return self._set(name, power=PowerState.RUNNING)

    def reinstall(
        self,
        name: str,
        image: ImageRef,
        *,
        root_password: str = "",
        ssh_keys: tuple[str, ...] = (),
        user_data: str = "",
    ) -> ServerInfo:
        self._call("reinstall")
        return self._set(
            name,
            image=image.code,
            disk_id=new_public_id("disk"),
            power=PowerState.RUNNING,
            snapshots=[],
            authorized_keys=list(ssh_keys),
            user_data=user_data,
            rescue=False,
        )

    def suspend(self, name: str) -> ServerInfo:
        self._call("suspend")
        return self._set(name, network_suspended=True)

    def resume(self, name: str) -> ServerInfo:
        self._call("resume")
        return self._set(name, network_suspended=False)

    # By capability --------------------------------------------------------------------------------------------

    def snapshot_create(self, name: str, snapshot: str) -> SnapshotInfo:
        self._call("snapshot_create")
        machine = self._get(name)
        now = clock.now()
        if any(s["name"] == snapshot for s in machine.snapshots):
            raise TerminalError(f"a snapshot named {snapshot!r} exists")
        self._set(
            name, snapshots=[*machine.snapshots, {"name": snapshot, "at": now.isoformat(), "disk": machine.disk_id}]
        )
        return SnapshotInfo(name=snapshot, created_at=now)

    def snapshot_list(self, name: str) -> list[SnapshotInfo]:
        return [
            SnapshotInfo(name=s["name"], created_at=dt.datetime.fromisoformat(s["at"]))
            for s in self._get(name).snapshots
        ]

    def snapshot_restore(self, name: str, snapshot: str) -> ServerInfo:
        self._call("snapshot_restore")
        machine = self._get(name)
        found = next((s for s in machine.snapshots if s["name"] == snapshot), None)
        if found is None:
            raise TerminalError(f"no snapshot {snapshot!r}")
        return self._set(name, disk_id=found["disk"])

    def snapshot_delete(self, name: str, snapshot: str) -> None:
        self._call("snapshot_delete")
        machine = self._get(name)
        self._set(name, snapshots=[s for s in machine.snapshots if s["name"] != snapshot])

    def traffic(self, name: str) -> TrafficCounters:
        machine = self._get(name)
        seconds = max(int((clock.now() - machine.created_at).total_seconds()), 0)
        return TrafficCounters(rx_bytes=seconds * RX_PER_SECOND, tx_bytes=seconds * TX_PER_SECOND)

    def evidence_copy(self, name: str, label: str) -> EvidenceCopy:
        self._call("evidence_copy")
        machine = self._get(name)
        return EvidenceCopy(
            name=f"evidence-{machine.name}-{label}",
            location=f"sandbox://{self.pool}/{machine.disk_id}",
            created_at=clock.now(),
        )

    def rescue_enter(self, name: str, *, root_password: str) -> ServerInfo:
        self._call("rescue_enter")
        return self._set(name, rescue=True, power=PowerState.RUNNING)

    def rescue_exit(self, name: str) -> ServerInfo:
        self._call("rescue_exit")
        return self._set(name, rescue=False, power=PowerState.RUNNING)

    def iso_insert(self, name: str, iso: IsoRef) -> ServerInfo:
        self._call("iso_insert")
        return self._set(name, iso=iso.code, power=PowerState.RUNNING)

    def iso_eject(self, name: str) -> ServerInfo:
        self._call("iso_eject")
        return self._set(name, iso="")

    def bandwidth_limit(self, name: str, mbps: int | None) -> ServerInfo:
        self._call("bandwidth_limit")
        return self._set(name, bandwidth_limit_mbps=mbps)

    def console(self, name: str) -> ConsoleEndpoint:
        self.require(Capability.CONSOLE)
        self._get(name)
        host, _, port = self.params["console_address"].rpartition(":")
        return ConsoleEndpoint(host=host.strip("[]"), port=int(port))


def sandbox_fault_add(*, pool: str, action: str, error: str, times: int = 1, message: str = "") -> SandboxFault:
    """Make the next ``times`` calls of ``action`` ("*" for any) on the pool fail with ``error``."""
    return SandboxFault.objects.create(pool=pool, action=action, error=error, remaining=times, message=message)
