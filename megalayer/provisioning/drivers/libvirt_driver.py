"""The libvirt driver: KVM/QEMU hosts through libvirt-python (the optional ``libvirt`` extra).

Production URI: ``qemu+ssh://root@host/system``. Tests run it on libvirt's
``test:///`` driver with a node file of the repository's own, and on a real
local QEMU (``qemu:///system``) in the ``libvirt_qemu`` test group.

A machine is a domain named after ``ServerSpec.name``, with one qcow2 disk
cloned from the image's base volume (``<image code>.qcow2`` in the storage
pool), an interface on the configured network (none when no network is set),
and a cloud-init NoCloud seed when ``cloud_init`` is on. The platform's own
facts (image, disk generation, suspension) live in the domain's metadata
element, so ``list_servers`` finds exactly the machines the platform made.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

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
)

try:
    import libvirt
except ImportError:  # pragma: no cover - the extra is not installed
    libvirt = None

T = TypeVar("T")
NS = "https://megalayer.org/xmlns/server/1"
_connections: dict[str, Any] = {}
_lock = threading.Lock()


def _silence(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; the driver raises them as typed errors instead."""


def _connect(uri: str) -> Any:
    """One connection per URI and process. The test driver's state lives in its connection, and for
    remote hosts a kept connection saves an SSH handshake per call."""
    if libvirt is None:
        raise TerminalError("libvirt-python is not installed (pip install 'megalayer[libvirt]')")
    with _lock:
        conn = _connections.get(uri)
        if conn is not None and conn.isAlive():
            return conn
        libvirt.registerErrorHandler(_silence, None)
        try:
            conn = libvirt.open(uri)
        except libvirt.libvirtError as error:
            raise RetryableError(f"cannot connect to {uri}: {error.get_error_message()}") from error
        _connections[uri] = conn
        return conn


def forget_connection(uri: str) -> None:
    """Drop a cached connection (tests reset the test driver's state with it)."""
    with _lock:
        conn = _connections.pop(uri, None)
    if conn is not None:
        with contextlib.suppress(Exception):  # closing a broken connection may fail; it is dropped either way
            conn.close()


def _typed(error: Any) -> DriverError:
    """libvirt's error codes → the contract's typed errors."""
    code = error.get_error_code()
    message = error.get_error_message() or str(error)
    if code in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT):
        return ServerNotFound(message)
    transient = {
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_OPERATION_TIMEOUT,
        libvirt.VIR_ERR_AGENT_UNRESPONSIVE,
        libvirt.VIR_ERR_RESOURCE_BUSY,
    }
    return RetryableError(message) if code in transient else TerminalError(message)


# The transports an operator needs (issue 14, item 7). Others run programs on the platform's host
# (``qemu+ext://?command=…``) or open sockets where the URI says (``qemu+unix://?socket=…``, ``qemu+tcp`` in
# clear text), so a staff member who may edit a host could run anything: they are refused.
_REMOTE = {"qemu+ssh": {"keyfile", "known_hosts", "known_hosts_verify", "no_tty", "sshauth"}, "qemu+tls": {"pkipath"}}
_HOSTNAME = re.compile(r"(?:[A-Za-z0-9_.-]+@)?(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def check_uri(uri: str) -> None:
    """Accept qemu+ssh://[user@]host[:port]/system, qemu+tls://host/system, qemu:///system (this host) and
    test:///default or test:///path/to/node.xml (tests); refuse every other transport and parameter."""
    bad = TerminalError(
        "libvirt: the connection URI must be qemu+ssh://user@host/system, qemu+tls://host/system, "
        "qemu:///system or test:///… (other transports and URI parameters are refused)"
    )
    if any(c.isspace() or not c.isprintable() for c in uri):
        raise bad
    parts = urlsplit(uri)
    query = parse_qs(parts.query, keep_blank_values=True)
    values = [v for vs in query.values() for v in vs]
    if parts.fragment or any(c.isspace() or not c.isprintable() for v in values for c in v):
        raise bad
    if parts.scheme in _REMOTE:
        if not _HOSTNAME.fullmatch(parts.netloc) or parts.path != "/system" or set(query) - _REMOTE[parts.scheme]:
            raise bad
    elif parts.scheme == "qemu":
        if parts.netloc or parts.path != "/system" or query:
            raise bad
    elif parts.scheme == "test":
        local = parts.path == "/default" or (parts.path.startswith("/") and parts.path.endswith(".xml"))
        if parts.netloc or not local or query or ".." in parts.path.split("/"):
            raise bad
    else:
        raise bad


class LibvirtDriver(Driver):
    name = "libvirt"
    label = "libvirt (KVM/QEMU)"
    parameters = (
        Parameter("uri", "Connection URI", help="qemu+ssh://root@host/system; test:///path for tests"),
        Parameter(
            "pool", "Storage pool", required=False, default="default", help="Holds the base image volumes", pattern=NAME
        ),
        Parameter("network", "Network", required=False, help="A libvirt network; empty: no interface", pattern=NAME),
        Parameter(
            "domain_type",
            "Domain type",
            required=False,
            default="kvm",
            help="kvm, or qemu without KVM",
            pattern="kvm|qemu",
        ),
        Parameter("cloud_init", "cloud-init seed", required=False, default="yes", help="yes or no", pattern="yes|no"),
    )

    def check(self) -> None:
        check_uri(self.params["uri"])

    @property
    def is_test(self) -> bool:
        return self.params["uri"].startswith("test:")

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.SNAPSHOTS, Capability.EVIDENCE_COPY, Capability.PAUSE}
        if self.params["network"]:
            caps.add(Capability.TRAFFIC)
        if not self.is_test:  # the test driver implements neither volume wiping nor uploads
            caps.add(Capability.WIPE)
            if self.params["cloud_init"] == "yes":
                caps.add(Capability.CLOUD_INIT)
        return frozenset(caps)

    # Plumbing -------------------------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except libvirt.libvirtError as error:
            raise _typed(error) from error

    @property
    def conn(self) -> Any:
        return _connect(self.params["uri"])

    def _pool(self) -> Any:
        return self._call(lambda: self.conn.storagePoolLookupByName(self.params["pool"]))

    def _domain(self, name: str) -> Any:
        return self._call(lambda: self.conn.lookupByName(name))

    def _meta(self, domain: Any) -> dict[str, str] | None:
        try:
            text = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        except libvirt.libvirtError:
            return None
        return dict(ET.fromstring(text).attrib)  # noqa: S314 - written by this driver, read from the host's daemon

    def _set_meta(self, domain: Any, **values: str) -> None:
        meta = {**(self._meta(domain) or {}), **values}
        attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in sorted(meta.items()))
        self._call(
            lambda: domain.setMetadata(
                libvirt.VIR_DOMAIN_METADATA_ELEMENT, f"<server {attrs}/>", "ml", NS, libvirt.VIR_DOMAIN_AFFECT_CONFIG
            )
        )

    @staticmethod
    def _disk_name(name: str) -> str:
        return f"{name}-disk.qcow2"

    @staticmethod
    def _interface_name(name: str) -> str:
        """Linux interface names have 15 characters at most: a stable short hash of the machine name."""
        return "ml" + hashlib.sha256(name.encode()).hexdigest()[:12]

    def _info(self, domain: Any) -> ServerInfo:
        state = self._call(domain.state)[0]
        power = {
            libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
            libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
            libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
            libvirt.VIR_DOMAIN_SHUTOFF: PowerState.STOPPED,
            libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.RUNNING,
            libvirt.VIR_DOMAIN_CRASHED: PowerState.STOPPED,
        }.get(state, PowerState.UNKNOWN)
        meta = self._meta(domain) or {}
        return ServerInfo(
            name=domain.name(),
            power=power,
            image=meta.get("image", ""),
            network_suspended=meta.get("suspended") == "1",
            disk_id=f"{meta.get('disk', '')}#{meta.get('generation', '0')}",
        )

    def _clone_disk(self, name: str, image: ImageRef, disk_gib: int) -> Any:
        pool = self._pool()
        base = self._call(lambda: pool.storageVolLookupByName(f"{image.code}.qcow2"))
        xml = (
            f"<volume><name>{escape(self._disk_name(name))}</name>"
            f"<capacity unit='GiB'>{int(disk_gib)}</capacity>"
            "<target><format type='qcow2'/></target></volume>"
        )
        return self._call(lambda: pool.createXMLFrom(xml, base, 0))

    def _delete_volume(self, volume_name: str, *, wipe: bool) -> bool:
        pool = self._pool()
        try:
            volume = pool.storageVolLookupByName(volume_name)
        except libvirt.libvirtError as error:
            if error.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                return False
            raise _typed(error) from error
        wiped = False
        if wipe and Capability.WIPE in self.capabilities:
            self._call(lambda: volume.wipe(0))
            wiped = True
        self._call(lambda: volume.delete(0))
        return wiped

    def _seed(self, spec: ServerSpec, password: str) -> str | None:
        """A NoCloud seed ISO (volume label ``cidata``) with hostname, password and keys; returns its path."""
        if Capability.CLOUD_INIT not in self.capabilities:
            return None
        import pycdlib

        keys = "".join(f"\n  - {k}" for k in spec.ssh_keys)
        user_data = (
            "#cloud-config\n"
            f"hostname: {spec.hostname or spec.name}\n"
            "ssh_pwauth: true\n"
            "chpasswd:\n  expire: false\n  users:\n"
            f"    - {{name: root, password: {password!r}, type: text}}\n"
            + (f"ssh_authorized_keys:{keys}\n" if keys else "")
        ).encode()
        meta_data = f"instance-id: {spec.name}\nlocal-hostname: {spec.hostname or spec.name}\n".encode()
        iso = pycdlib.PyCdlib()
        iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
        for filename, data in (("user-data", user_data), ("meta-data", meta_data)):
            short = filename.upper().replace("-", "") + ".;1"
            iso.add_fp(io.BytesIO(data), len(data), f"/{short}", rr_name=filename, joliet_path=f"/{filename}")
        out = io.BytesIO()
        iso.write_fp(out)
        iso.close()
        payload = out.getvalue()
        pool = self._pool()
        seed_name = f"{spec.name}-seed.iso"
        self._delete_volume(seed_name, wipe=False)
        volume = self._call(
            lambda: pool.createXML(
                f"<volume><name>{escape(seed_name)}</name><capacity unit='bytes'>{len(payload)}</capacity>"
                "<target><format type='raw'/></target></volume>",
                0,
            )
        )
        stream = self.conn.newStream(0)
        self._call(lambda: volume.upload(stream, 0, len(payload), 0))
        stream.send(payload)
        stream.finish()
        return str(volume.path())

    def _domain_xml(self, spec: ServerSpec, disk_path: str, seed_path: str | None) -> str:
        domain_type = "test" if self.is_test else self.params["domain_type"]
        network = self.params["network"]
        interface = (
            f"<interface type='network'><source network={quoteattr(network)}/>"
            f"<target dev='{self._interface_name(spec.name)}'/><model type='virtio'/></interface>"
            if network
            else ""
        )
        seed = (
            f"<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file={quoteattr(seed_path)}/>"
            "<target dev='sda' bus='sata'/><readonly/></disk>"
            if seed_path
            else ""
        )
        console = "" if self.is_test else "<serial type='pty'/><console type='pty'/>"
        return (
            f"<domain type='{domain_type}'><name>{escape(spec.name)}</name>"
            f"<metadata><ml:server xmlns:ml='{NS}' image={quoteattr(spec.image.code)} generation='1'"
            f" disk={quoteattr(self._disk_name(spec.name))} suspended='0'/></metadata>"
            f"<memory unit='MiB'>{int(spec.memory_mib)}</memory><vcpu>{int(spec.vcpus)}</vcpu>"
            "<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os><features><acpi/><apic/></features>"
            "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>"
            "<devices>"
            f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file={quoteattr(disk_path)}/>"
            "<target dev='vda' bus='virtio'/></disk>"
            f"{seed}{interface}{console}"
            "</devices></domain>"
        )

    def _stop(self, domain: Any) -> None:
        if self._call(domain.isActive):
            self._call(domain.destroy)

    # The core -------------------------------------------------------------------------------------------------

    def create(self, spec: ServerSpec) -> ServerInfo:
        try:
            existing = self.conn.lookupByName(spec.name)
        except libvirt.libvirtError as error:
            if error.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise _typed(error) from error
            existing = None
        if existing is not None:  # a retried create: the machine is already there
            if not self._call(existing.isActive):
                self._call(existing.create)
            return self._info(existing)
        self._delete_volume(self._disk_name(spec.name), wipe=False)  # a half-made disk of a killed attempt
        volume = self._clone_disk(spec.name, spec.image, spec.disk_gib)
        seed = self._seed(spec, spec.root_password)
        domain = self._call(lambda: self.conn.defineXML(self._domain_xml(spec, volume.path(), seed)))
        self._call(domain.create)
        return self._info(domain)

    def destroy(self, name: str, *, wipe: bool = True) -> bool:
        try:
            domain = self.conn.lookupByName(name)
        except libvirt.libvirtError as error:
            if error.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise _typed(error) from error
            domain = None
        if domain is not None:
            self._stop(domain)
            for snapshot in self._call(domain.listAllSnapshots):
                self._call(snapshot.delete)
            self._call(domain.undefine)
        wiped = self._delete_volume(self._disk_name(name), wipe=wipe)
        self._delete_volume(f"{name}-seed.iso", wipe=False)
        return wiped

    def state(self, name: str) -> ServerInfo:
        return self._info(self._domain(name))

    def list_servers(self) -> list[ServerInfo]:
        domains = self._call(lambda: self.conn.listAllDomains(0))
        return sorted((self._info(d) for d in domains if self._meta(d) is not None), key=lambda s: s.name)

    def power_on(self, name: str) -> ServerInfo:
        domain = self._domain(name)
        if not self._call(domain.isActive):
            self._call(domain.create)
        return self._info(domain)

    def power_off(self, name: str, *, soft_timeout: float = 60.0) -> ServerInfo:
        domain = self._domain(name)
        if self._call(domain.isActive):
            self._call(domain.shutdown)  # ACPI: the guest's own orderly shutdown
            stopped = self.wait_for(lambda: True if not domain.isActive() else None, timeout=soft_timeout)
            if not stopped:
                self._stop(domain)  # the guest ignored it: pull the plug
        return self._info(domain)

    def reboot(self, name: str) -> ServerInfo:
        domain = self._domain(name)
        if self._call(domain.isActive):
            self._call(lambda: domain.reboot(0))
        else:
            self._call(domain.create)
        return self._info(domain)

    def reinstall(
        self, name: str, image: ImageRef, *, root_password: str = "", ssh_keys: tuple[str, ...] = ()
    ) -> ServerInfo:
        """Stop, drop the snapshots and the disk, clone a fresh disk from the image, start."""
        domain = self._domain(name)
        meta = self._meta(domain) or {}
        self._stop(domain)
        for snapshot in self._call(domain.listAllSnapshots):
            self._call(snapshot.delete)
        info = self._call(domain.info)
        disk_gib = self._disk_capacity_gib(name)
        self._delete_volume(self._disk_name(name), wipe=True)
        self._clone_disk(name, image, disk_gib)
        if Capability.CLOUD_INIT in self.capabilities:
            spec = ServerSpec(
                name=name,
                hostname=name,
                vcpus=info[3],
                memory_mib=info[1] // 1024,
                disk_gib=disk_gib,
                image=image,
                ssh_keys=ssh_keys,
            )
            self._seed(spec, root_password)
        generation = str(int(meta.get("generation", "1")) + 1)
        self._set_meta(domain, image=image.code, generation=generation, suspended="0")
        self._call(domain.create)
        return self._info(domain)

    def _disk_capacity_gib(self, name: str) -> int:
        try:
            volume = self._pool().storageVolLookupByName(self._disk_name(name))
        except libvirt.libvirtError:
            return 10
        return max(int(volume.info()[1]) // (1024**3), 1)

    def suspend(self, name: str) -> ServerInfo:
        domain = self._domain(name)
        if self._call(domain.state)[0] == libvirt.VIR_DOMAIN_RUNNING:
            self._call(domain.suspend)
        self._set_meta(domain, suspended="1")
        return self._info(domain)

    def resume(self, name: str) -> ServerInfo:
        domain = self._domain(name)
        if self._call(domain.state)[0] == libvirt.VIR_DOMAIN_PAUSED:
            self._call(domain.resume)
        self._set_meta(domain, suspended="0")
        return self._info(domain)

    # By capability --------------------------------------------------------------------------------------------

    def snapshot_create(self, name: str, snapshot: str) -> SnapshotInfo:
        domain = self._domain(name)
        xml = f"<domainsnapshot><name>{escape(snapshot)}</name></domainsnapshot>"
        made = self._call(lambda: domain.snapshotCreateXML(xml, 0))
        return self._snapshot_info(made)

    @staticmethod
    def _snapshot_info(snapshot: Any) -> SnapshotInfo:
        root = ET.fromstring(snapshot.getXMLDesc(0))  # noqa: S314 - the host's daemon's own XML
        created = int(root.findtext("creationTime") or 0)
        return SnapshotInfo(name=snapshot.getName(), created_at=dt.datetime.fromtimestamp(created, tz=dt.UTC))

    def snapshot_list(self, name: str) -> list[SnapshotInfo]:
        domain = self._domain(name)
        return sorted(
            (self._snapshot_info(s) for s in self._call(domain.listAllSnapshots)), key=lambda s: (s.created_at, s.name)
        )

    def snapshot_restore(self, name: str, snapshot: str) -> ServerInfo:
        domain = self._domain(name)
        found = self._call(lambda: domain.snapshotLookupByName(snapshot, 0))
        self._call(lambda: domain.revertToSnapshot(found, 0))
        return self._info(domain)

    def snapshot_delete(self, name: str, snapshot: str) -> None:
        domain = self._domain(name)
        found = self._call(lambda: domain.snapshotLookupByName(snapshot, 0))
        self._call(found.delete)

    def traffic(self, name: str) -> TrafficCounters:
        self.require(Capability.TRAFFIC)
        domain = self._domain(name)
        if not self._call(domain.isActive):
            return TrafficCounters(rx_bytes=0, tx_bytes=0)
        stats = self._call(lambda: domain.interfaceStats(self._interface_name(name)))
        return TrafficCounters(rx_bytes=int(stats[0]), tx_bytes=int(stats[4]))

    def evidence_copy(self, name: str, label: str) -> EvidenceCopy:
        """Pause, clone the disk to a read-only volume, resume: a consistent copy for a legal hold."""
        domain = self._domain(name)
        pool = self._pool()
        source = self._call(lambda: pool.storageVolLookupByName(self._disk_name(name)))
        was_running = self._call(domain.state)[0] == libvirt.VIR_DOMAIN_RUNNING
        if was_running:
            self._call(domain.suspend)
        try:
            copy_name = f"evidence-{name}-{label}.qcow2"
            xml = (
                f"<volume><name>{escape(copy_name)}</name><capacity unit='bytes'>{source.info()[1]}</capacity>"
                "<target><format type='qcow2'/><permissions><mode>0400</mode></permissions></target></volume>"
            )
            copy = self._call(lambda: pool.createXMLFrom(xml, source, 0))
        finally:
            if was_running:
                self._call(domain.resume)
        return EvidenceCopy(name=copy_name, location=str(copy.path()), created_at=dt.datetime.now(dt.UTC))
