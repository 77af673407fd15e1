"""The Proxmox VE driver, through proxmoxer (the optional ``proxmox`` extra) and an API token.

A machine is a QEMU VM named after ``ServerSpec.name`` and tagged
``megalayer``; its description holds the platform's facts (image, disk
generation, suspension). Create and reinstall clone the image's template (a
template VM named after the image code), set cloud-init (root password, keys,
hostname) and start. Suspension sets ``link_down`` on the VM's network
interface: the machine runs on, unreachable. Traffic comes from the VM's rrd
data; evidence copies are ``vzdump`` archives on the configured backup storage.
"""

from __future__ import annotations

import functools
import itertools
import time
import urllib.parse
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from megalayer.provisioning.drivers.base import (
    NAME,
    Capability,
    Driver,
    DriverError,
    EvidenceCopy,
    ImageRef,
    Parameter,
    PowerState,
    RetryableError,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
    SnapshotInfo,
    TerminalError,
    TrafficCounters,
    ipv6_own_address,
)

T = TypeVar("T")
TAG = "megalayer"


def _parse_description(text: str) -> dict[str, str]:
    """``megalayer image=debian-12 generation=2 suspended=0`` → a dict."""
    words = (text or "").split()
    if not words or words[0] != TAG:
        return {}
    return dict(w.split("=", 1) for w in words[1:] if "=" in w)


def _description(values: dict[str, str]) -> str:
    return " ".join([TAG, *(f"{k}={v}" for k, v in sorted(values.items()))])


class ProxmoxDriver(Driver):
    name = "proxmox"
    label = "Proxmox VE"
    parameters = (
        Parameter(
            "host", "API host", help="pve.example.net or pve.example.net:8006", pattern=r"[A-Za-z0-9.-]+(:[0-9]{1,5})?"
        ),
        Parameter("node", "Node", help="The Proxmox node new machines are placed on", pattern=NAME),
        Parameter("user", "User", default="root@pam", required=False, help="user@realm", pattern=NAME + "@" + NAME),
        Parameter("token_name", "API token name", pattern=NAME),
        Parameter("token_value", "API token secret", secret=True),
        Parameter(
            "verify_ssl",
            "Verify TLS certificate",
            required=False,
            default="yes",
            help="yes, no, or a CA file path",
            pattern=r"yes|no|/[A-Za-z0-9_./-]+",
        ),
        Parameter("storage", "Disk storage", required=False, default="local-lvm", pattern=NAME),
        Parameter("backup_storage", "Evidence (vzdump) storage", required=False, default="local", pattern=NAME),
        Parameter("bridge", "Bridge", required=False, default="vmbr0", pattern=NAME),
        Parameter("poll_interval", "Task poll interval (s)", required=False, default="1"),
    )

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(
            {
                Capability.SNAPSHOTS,
                Capability.TRAFFIC,
                Capability.SUSPEND_NETWORK,
                Capability.EVIDENCE_COPY,
                Capability.CLOUD_INIT,
            }
        )

    # Plumbing -------------------------------------------------------------------------------------------------

    @functools.cached_property
    def api(self) -> Any:
        """One API client (one HTTPS session) per driver instance."""
        from proxmoxer import ProxmoxAPI

        host, _, port = self.params["host"].partition(":")
        return ProxmoxAPI(
            host,
            port=int(port or 8006),
            user=self.params["user"],
            token_name=self.params["token_name"],
            token_value=self.params["token_value"],
            verify_ssl={"yes": True, "no": False}.get(self.params["verify_ssl"], self.params["verify_ssl"]),
            timeout=int(self.timeout),
        )

    def _call(self, fn: Callable[[], T]) -> T:
        """proxmoxer's and requests' errors → the contract's typed errors."""
        import requests
        from proxmoxer.core import ResourceException

        try:
            return fn()
        except ResourceException as error:
            text = f"{error.status_code} {error.status_message}: {error.content}"
            lowered = text.lower()
            if "does not exist" in lowered or error.status_code == 404:
                raise ServerNotFound(text) from error
            if error.status_code >= 500 and ("lock" in lowered or "timeout" in lowered or error.status_code != 500):
                raise RetryableError(text) from error
            raise TerminalError(text) from error
        except (requests.ConnectionError, requests.Timeout) as error:
            raise RetryableError(f"Proxmox API unreachable: {error}") from error

    @property
    def _node(self) -> Any:
        return self.api.nodes(self.params["node"])

    def _wait_task(self, upid: str) -> None:
        """Proxmox answers long actions with a task id (UPID); wait until it stops, and fail if it failed."""
        interval = self.seconds("poll_interval")
        deadline = time.monotonic() + self.timeout
        while True:
            status = self._call(lambda: self._node.tasks(upid).status.get())
            if status.get("status") == "stopped":
                if status.get("exitstatus") != "OK":
                    raise TerminalError(f"Proxmox task {upid} failed: {status.get('exitstatus')}")
                return
            if time.monotonic() >= deadline:
                raise RetryableError(f"Proxmox task {upid} still running after {self.timeout:.0f}s")
            self.pause(interval)

    def _vms(self) -> list[dict[str, Any]]:
        return list(self._call(lambda: self.api.cluster.resources.get(type="vm")))

    def _find(self, name: str) -> dict[str, Any] | None:
        for vm in self._vms():
            if vm.get("name") == name and not vm.get("template"):
                return vm
        return None

    def _vmid(self, name: str) -> int:
        vm = self._find(name)
        if vm is None:
            raise ServerNotFound(f"no Proxmox VM named {name!r}")
        return int(vm["vmid"])

    def _template(self, image: ImageRef) -> int:
        for vm in self._vms():
            if vm.get("template") and vm.get("name") == image.code:
                return int(vm["vmid"])
        raise TerminalError(f"no Proxmox template named {image.code!r}")

    def _qemu(self, vmid: int) -> Any:
        return self._node.qemu(vmid)

    def _config(self, vmid: int) -> dict[str, Any]:
        return dict(self._call(lambda: self._qemu(vmid).config.get()))

    def _info(self, vmid: int) -> ServerInfo:
        status = self._call(lambda: self._qemu(vmid).status.current.get())
        config = self._config(vmid)
        meta = _parse_description(config.get("description", ""))
        if status.get("status") == "running":
            power = PowerState.PAUSED if status.get("qmpstatus") == "paused" else PowerState.RUNNING
        elif status.get("status") == "stopped":
            power = PowerState.STOPPED
        else:
            power = PowerState.UNKNOWN
        disk = str(config.get("scsi0", "")).split(",", 1)[0]
        return ServerInfo(
            name=str(config.get("name", status.get("name", ""))),
            power=power,
            image=meta.get("image", ""),
            network_suspended="link_down=1" in str(config.get("net0", "")),
            disk_id=f"{disk}#{meta.get('generation', '1')}",
        )

    def _set_meta(self, vmid: int, **values: str) -> None:
        meta = {**_parse_description(self._config(vmid).get("description", "")), **values}
        self._call(lambda: self._qemu(vmid).config.put(description=_description(meta)))

    def _clone(self, template: int, vmid: int, spec: ServerSpec, generation: int) -> None:
        upid = self._call(
            lambda: self._node.qemu(template).clone.post(
                newid=vmid, name=spec.name, full=1, storage=self.params["storage"], target=self.params["node"]
            )
        )
        self._wait_task(upid)
        settings: dict[str, Any] = {
            "cores": spec.vcpus,
            "memory": spec.memory_mib,
            "tags": TAG,
            "ciuser": "Administrator" if spec.image.windows else "root",
            "description": _description({"image": spec.image.code, "generation": str(generation), "suspended": "0"}),
            "net0": f"virtio,bridge={self.params['bridge']}",
        }
        if spec.root_password:
            settings["cipassword"] = spec.root_password
        if spec.ssh_keys:
            # Proxmox wants the keys URL-encoded, spaces as %20 (its API documentation says so).
            settings["sshkeys"] = urllib.parse.quote("\n".join(spec.ssh_keys), safe="")
        ip = [f"ip={spec.addresses[0]}/32"] if spec.addresses else []
        ip += [f"ip6={ipv6_own_address(p)}" for p in spec.ipv6_prefixes[:1]]
        if ip:
            settings["ipconfig0"] = ",".join(ip)
        self._call(lambda: self._qemu(vmid).config.post(**settings))
        self._call(lambda: self._qemu(vmid).resize.put(disk="scsi0", size=f"{int(spec.disk_gib)}G"))
        self._wait_task(self._call(lambda: self._qemu(vmid).status.start.post()))

    # The core -------------------------------------------------------------------------------------------------

    def create(self, spec: ServerSpec) -> ServerInfo:
        existing = self._find(spec.name)
        if existing is not None:  # a retried create: the VM is already there
            vmid = int(existing["vmid"])
            if existing.get("status") != "running":
                self._wait_task(self._call(lambda: self._qemu(vmid).status.start.post()))
            return self._info(vmid)
        template = self._template(spec.image)
        vmid = int(self._call(lambda: self.api.cluster.nextid.get()))
        self._clone(template, vmid, spec, generation=1)
        return self._info(vmid)

    def destroy(self, name: str, *, wipe: bool = True) -> bool:
        vm = self._find(name)
        if vm is None:
            return False
        vmid = int(vm["vmid"])
        if vm.get("status") == "running":
            self._wait_task(self._call(lambda: self._qemu(vmid).status.stop.post()))
        upid = self._call(lambda: self._qemu(vmid).delete(purge=1, **{"destroy-unreferenced-disks": 1}))
        self._wait_task(upid)
        return False  # Proxmox frees the volume; overwriting it is the storage's setting (LVM saferemove)

    def state(self, name: str) -> ServerInfo:
        return self._info(self._vmid(name))

    def list_servers(self) -> list[ServerInfo]:
        ours = [vm for vm in self._vms() if not vm.get("template") and TAG in str(vm.get("tags", "")).split(";")]
        return sorted((self._info(int(vm["vmid"])) for vm in ours), key=lambda s: s.name)

    def power_on(self, name: str) -> ServerInfo:
        vmid = self._vmid(name)
        self._wait_task(self._call(lambda: self._qemu(vmid).status.start.post()))
        return self._info(vmid)

    def power_off(self, name: str, *, soft_timeout: float = 60.0) -> ServerInfo:
        """Proxmox does soft-then-hard itself: shutdown with a timeout and forceStop."""
        vmid = self._vmid(name)
        upid = self._call(lambda: self._qemu(vmid).status.shutdown.post(timeout=int(soft_timeout), forceStop=1))
        self._wait_task(upid)
        return self._info(vmid)

    def reboot(self, name: str) -> ServerInfo:
        vmid = self._vmid(name)
        self._wait_task(self._call(lambda: self._qemu(vmid).status.reboot.post()))
        return self._info(vmid)

    def reinstall(
        self,
        name: str,
        image: ImageRef,
        *,
        root_password: str = "",
        ssh_keys: tuple[str, ...] = (),
        user_data: str = "",  # not offered: Proxmox's API cannot upload a cicustom snippet (no USER_DATA)
    ) -> ServerInfo:
        """Destroy the VM (disks purged) and clone the template afresh under the same VM id and name."""
        vmid = self._vmid(name)
        config = self._config(vmid)
        meta = _parse_description(config.get("description", ""))
        disk_gib = int(str(config.get("scsi0", "size=10G")).rsplit("size=", 1)[-1].rstrip("G") or 10)
        template = self._template(image)
        self.destroy(name)
        spec = ServerSpec(
            name=name,
            hostname=name,
            vcpus=int(config.get("cores", 1)),
            memory_mib=int(config.get("memory", 1024)),
            disk_gib=disk_gib,
            image=image,
            root_password=root_password,
            ssh_keys=ssh_keys,
        )
        self._clone(template, vmid, spec, generation=int(meta.get("generation", "1")) + 1)
        return self._info(vmid)

    def _set_link(self, name: str, *, down: bool) -> ServerInfo:
        vmid = self._vmid(name)
        parts = [p for p in str(self._config(vmid).get("net0", "")).split(",") if p and not p.startswith("link_down")]
        if down:
            parts.append("link_down=1")
        self._call(lambda: self._qemu(vmid).config.post(net0=",".join(parts)))
        self._set_meta(vmid, suspended="1" if down else "0")
        return self._info(vmid)

    def suspend(self, name: str) -> ServerInfo:
        return self._set_link(name, down=True)

    def resume(self, name: str) -> ServerInfo:
        return self._set_link(name, down=False)

    # By capability --------------------------------------------------------------------------------------------

    def snapshot_create(self, name: str, snapshot: str) -> SnapshotInfo:
        vmid = self._vmid(name)
        self._wait_task(self._call(lambda: self._qemu(vmid).snapshot.post(snapname=snapshot)))
        found = next((s for s in self.snapshot_list(name) if s.name == snapshot), None)
        if found is None:
            raise RetryableError(f"snapshot {snapshot!r} not listed after creation")
        return found

    def snapshot_list(self, name: str) -> list[SnapshotInfo]:
        import datetime as dt

        vmid = self._vmid(name)
        rows = self._call(lambda: self._qemu(vmid).snapshot.get())
        return sorted(
            (
                SnapshotInfo(name=r["name"], created_at=dt.datetime.fromtimestamp(int(r.get("snaptime", 0)), tz=dt.UTC))
                for r in rows
                if r.get("name") != "current"  # Proxmox lists "You are here!" as a pseudo snapshot
            ),
            key=lambda s: (s.created_at, s.name),
        )

    def snapshot_restore(self, name: str, snapshot: str) -> ServerInfo:
        vmid = self._vmid(name)
        self._wait_task(self._call(lambda: self._qemu(vmid).snapshot(snapshot).rollback.post()))
        return self._info(vmid)

    def snapshot_delete(self, name: str, snapshot: str) -> None:
        vmid = self._vmid(name)
        self._wait_task(self._call(lambda: self._qemu(vmid).snapshot(snapshot).delete()))

    def traffic(self, name: str) -> TrafficCounters:
        """Sum this month's rrd averages (bytes per second) times each step's length."""
        vmid = self._vmid(name)
        rows = list(self._call(lambda: self._qemu(vmid).rrddata.get(timeframe="month", cf="AVERAGE")))
        # Decimal from the JSON text of each average: the sum over a month's steps stays exact.
        rx = tx = Decimal(0)
        for previous, row in itertools.pairwise(rows):
            step = int(row["time"]) - int(previous["time"])
            rx += Decimal(str(row.get("netin") or 0)) * step
            tx += Decimal(str(row.get("netout") or 0)) * step
        return TrafficCounters(rx_bytes=int(rx), tx_bytes=int(tx))

    def evidence_copy(self, name: str, label: str) -> EvidenceCopy:
        import datetime as dt

        vmid = self._vmid(name)
        storage = self.params["backup_storage"]
        upid = self._call(
            lambda: self._node.vzdump.post(
                vmid=vmid, storage=storage, mode="snapshot", compress="zstd", protected=1, **{"notes-template": label}
            )
        )
        self._wait_task(upid)
        archives = self._call(lambda: self._node.storage(storage).content.get(content="backup", vmid=vmid))
        if not archives:
            raise RetryableError("vzdump finished but its archive is not listed yet")
        newest = max(archives, key=lambda a: int(a.get("ctime", 0)))
        return EvidenceCopy(
            name=f"evidence-{name}-{label}",
            location=str(newest["volid"]),
            created_at=dt.datetime.fromtimestamp(int(newest.get("ctime", 0)), tz=dt.UTC),
        )


__all__ = ["DriverError", "ProxmoxDriver"]
