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
    ConsoleEndpoint,
    Driver,
    DriverError,
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
from megalayer.provisioning.drivers.cloudinit import seed_network_config, seed_user_data

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
        Parameter(
            "rescue_image",
            "Rescue ISO",
            required=False,
            help="A volume of the pool (without .iso) that boots a rescue system reading its root password "
            "from the cloud-init seed; empty: no rescue",
            pattern=NAME,
        ),
        Parameter(
            "console_listen",
            "Console listen address",
            required=False,
            default="127.0.0.1",
            help="Where each machine's VNC console listens on the host: its management address, reachable by "
            "the console proxy only",
            pattern=r"[0-9.]{7,15}|[0-9A-Fa-f:]{2,39}",
        ),
    )

    def check(self) -> None:
        check_uri(self.params["uri"])

    @property
    def is_test(self) -> bool:
        return self.params["uri"].startswith("test:")

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.SNAPSHOTS, Capability.EVIDENCE_COPY, Capability.PAUSE, Capability.ISO}
        if self.params["network"]:
            caps.add(Capability.TRAFFIC)
        if self.params["rescue_image"]:
            caps.add(Capability.RESCUE)
        if not self.is_test:  # the test driver implements neither volume wiping nor uploads nor graphics
            caps.update({Capability.WIPE, Capability.CONSOLE})
            if self.params["network"]:
                caps.add(Capability.SHAPING)
            if self.params["cloud_init"] == "yes":
                caps.update({Capability.CLOUD_INIT, Capability.USER_DATA})
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
            rescue=meta.get("rescue") == "1",
            iso=meta.get("iso", ""),
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

    def _seed(self, spec: ServerSpec, password: str, *, instance: str = "") -> str | None:
        """A NoCloud seed ISO (volume label ``cidata``) with hostname, password, keys, the machine's IPv6
        address and the customer's user data; returns its path. ``instance`` changes the instance id, so
        cloud-init runs again on a new disk (a reinstall) or in the rescue system."""
        if Capability.CLOUD_INIT not in self.capabilities:
            return None
        import pycdlib

        user_data = seed_user_data(spec, password)
        meta_data = f"instance-id: {spec.name}{instance}\nlocal-hostname: {spec.hostname or spec.name}\n".encode()
        files = [("user-data", user_data), ("meta-data", meta_data)]
        if spec.ipv6_prefixes:
            files.append(("network-config", seed_network_config(spec).encode()))
        iso = pycdlib.PyCdlib()
        iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
        for filename, data in files:
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
        console = (
            ""
            if self.is_test
            else "<serial type='pty'/><console type='pty'/>"
            f"<graphics type='vnc' autoport='yes' listen={quoteattr(self.params['console_listen'])}/>"
        )
        return (
            f"<domain type='{domain_type}'><name>{escape(spec.name)}</name>"
            f"<metadata><ml:server xmlns:ml='{NS}' image={quoteattr(spec.image.code)} generation='1'"
            f" disk={quoteattr(self._disk_name(spec.name))} suspended='0'"
            f" ipv6={quoteattr(' '.join(spec.ipv6_prefixes))}/></metadata>"
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
        self,
        name: str,
        image: ImageRef,
        *,
        root_password: str = "",
        ssh_keys: tuple[str, ...] = (),
        user_data: str = "",
    ) -> ServerInfo:
        """Stop, drop the snapshots and the disk, clone a fresh disk from the image, start (out of rescue)."""
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
                user_data=user_data,
                ipv6_prefixes=tuple(p for p in meta.get("ipv6", "").split() if p),
            )
            self._seed(spec, root_password)
        if meta.get("rescue") == "1":
            self._redefine(domain, lambda root: self._boot_media(root, "sdb", None))
        generation = str(int(meta.get("generation", "1")) + 1)
        self._set_meta(domain, image=image.code, generation=generation, suspended="0", rescue="0")
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

    # Rescue, ISO, console, shaping (issue 18) ----------------------------------------------------------------

    def _redefine(self, domain: Any, mutate: Callable[[ET.Element], None]) -> None:
        """Change the domain's persistent definition: read it, let ``mutate`` edit the tree, define it again."""
        root = ET.fromstring(  # noqa: S314 - the host's daemon's own XML
            self._call(lambda: domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        )
        mutate(root)
        self._call(lambda: self.conn.defineXML(ET.tostring(root, encoding="unicode")))

    def _boot_media(self, root: ET.Element, target: str, path: str | None) -> None:
        """Put a boot CD-ROM at ``target`` (``path``) or take it away; the machine boots from a present rescue
        (sdb) or installer (sdc) CD-ROM first, then from its disk."""
        devices = root.find("devices")
        os_element = root.find("os")
        if devices is None or os_element is None:
            raise TerminalError("libvirt: the domain definition has no devices or os element")
        for disk in devices.findall("disk"):
            found = disk.find("target")
            if disk.get("device") == "cdrom" and found is not None and found.get("dev") == target:
                devices.remove(disk)
        if path is not None:
            devices.append(
                ET.fromstring(  # noqa: S314 - built here
                    f"<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file={quoteattr(path)}/>"
                    f"<target dev='{target}' bus='sata'/><readonly/></disk>"
                )
            )
        for boot in os_element.findall("boot"):
            os_element.remove(boot)
        for disk in devices.findall("disk"):
            for boot in disk.findall("boot"):
                disk.remove(boot)
        order = 1
        for wanted in ("sdb", "sdc", "vda"):
            for disk in devices.findall("disk"):
                found = disk.find("target")
                if found is not None and found.get("dev") == wanted:
                    ET.SubElement(disk, "boot", order=str(order))
                    order += 1

    def _volume_path(self, volume: str) -> str:
        pool = self._pool()
        return str(self._call(lambda: pool.storageVolLookupByName(volume)).path())

    def _restart_with(self, name: str, target: str, path: str | None, **meta: str) -> ServerInfo:
        domain = self._domain(name)
        self._stop(domain)
        self._redefine(domain, lambda root: self._boot_media(root, target, path))
        domain = self._domain(name)
        self._set_meta(domain, **meta)
        self._call(domain.create)
        return self._info(domain)

    def rescue_enter(self, name: str, *, root_password: str) -> ServerInfo:
        """Boot the rescue ISO; a fresh seed gives the rescue system its one-time root password."""
        self.require(Capability.RESCUE)
        path = self._volume_path(f"{self.params['rescue_image']}.iso")
        domain = self._domain(name)
        meta = self._meta(domain) or {}
        if Capability.CLOUD_INIT in self.capabilities:
            info = self._call(domain.info)
            spec = ServerSpec(
                name=name,
                hostname=name,
                vcpus=info[3],
                memory_mib=info[1] // 1024,
                disk_gib=self._disk_capacity_gib(name),
                image=ImageRef(code=self.params["rescue_image"]),
            )
            self._seed(spec, root_password, instance=f"-rescue-{meta.get('generation', '1')}-{int(dt_now())}")
        return self._restart_with(name, "sdb", path, rescue="1")

    def rescue_exit(self, name: str) -> ServerInfo:
        self.require(Capability.RESCUE)
        return self._restart_with(name, "sdb", None, rescue="0")

    def iso_insert(self, name: str, iso: IsoRef) -> ServerInfo:
        return self._restart_with(name, "sdc", self._volume_path(f"{iso.code}.iso"), iso=iso.code)

    def iso_eject(self, name: str) -> ServerInfo:
        return self._restart_with(name, "sdc", None, iso="")

    def console(self, name: str) -> ConsoleEndpoint:
        """The running domain's VNC port (autoport: chosen at every start) on the configured listen address."""
        self.require(Capability.CONSOLE)
        domain = self._domain(name)
        if not self._call(domain.isActive):
            raise TerminalError("the server is stopped: start it to open its console")
        root = ET.fromstring(self._call(lambda: domain.XMLDesc(0)))  # noqa: S314 - the host's daemon's own XML
        graphics = root.find("devices/graphics[@type='vnc']")
        port = int(graphics.get("port", "-1")) if graphics is not None else -1
        if port <= 0:
            raise RetryableError("the server's console is not listening yet")
        return ConsoleEndpoint(host=self.params["console_listen"], port=port)

    def bandwidth_limit(self, name: str, mbps: int | None) -> ServerInfo:
        """libvirt's interface bandwidth (average, in kilobytes a second) both ways; 0 lifts the limit."""
        self.require(Capability.SHAPING)
        domain = self._domain(name)
        rate = 0 if mbps is None else max(int(mbps) * 125, 1)
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if self._call(domain.isActive):
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        self._call(
            lambda: domain.setInterfaceParameters(
                self._interface_name(name), {"inbound.average": rate, "outbound.average": rate}, flags
            )
        )
        return self._info(domain)


def dt_now() -> float:
    """Seconds since the epoch (a rescue seed's instance id changes at every entry, so cloud-init runs)."""
    return dt.datetime.now(dt.UTC).timestamp()
