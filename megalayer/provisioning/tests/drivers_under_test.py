"""The drivers the contract suite runs against, each on what this machine has: the sandbox on the test
database, libvirt on its ``test:///`` driver with the repository's node file, Proxmox against a local HTTPS
server that answers with recorded Proxmox VE API responses (Proxmox's servers are not on this machine)."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from megalayer.provisioning.drivers import driver_for
from megalayer.provisioning.drivers.base import Driver

if TYPE_CHECKING:
    from megalayer.provisioning.drivers.base import Bmc

FIXTURES = Path(__file__).parent / "fixtures"
LIBVIRT_NODE = FIXTURES / "libvirt-test-node.xml"
HAS_LIBVIRT = importlib.util.find_spec("libvirt") is not None
HAS_PROXMOXER = importlib.util.find_spec("proxmoxer") is not None
HAS_SUSHY = importlib.util.find_spec("sushy") is not None and importlib.util.find_spec("sushy_tools") is not None


@dataclass(frozen=True)
class UnderTest:
    driver: Driver
    images: tuple[str, str]  # two images the host has
    checks_images: bool  # refuses an image it does not have
    iso: str = "debian-13-netinst"  # an installer ISO the host has
    observes_disk: bool = True  # disk_id changes with the disk (bare metal: it names the machine)
    prepare: Callable[[str], None] = lambda name: None  # the platform's step before create (bare metal: reserve)
    rack: Any = None  # the emulated rack behind a bare-metal driver


@contextmanager
def sandbox() -> Iterator[UnderTest]:
    yield UnderTest(driver_for("sandbox", {"pool": "contract"}), ("debian-12", "ubuntu-24-04"), False)


@contextmanager
def libvirt_test() -> Iterator[UnderTest]:
    if not HAS_LIBVIRT:
        pytest.skip("libvirt-python is not installed (the 'libvirt' extra needs Debian's libvirt-dev)")
    from megalayer.provisioning.drivers.libvirt_driver import forget_connection

    uri = f"test://{LIBVIRT_NODE}"
    forget_connection(uri)  # a fresh in-memory host for each test
    try:
        yield UnderTest(
            driver_for("libvirt", {"uri": uri, "network": "isolated", "rescue_image": "rescue"}),
            ("debian-12", "ubuntu-24-04"),
            True,
        )
    finally:
        forget_connection(uri)


@contextmanager
def proxmox_recorded() -> Iterator[UnderTest]:
    if not HAS_PROXMOXER:
        pytest.skip("proxmoxer is not installed (the 'proxmox' extra)")
    from megalayer.provisioning.tests.proxmox_recorded import recorded_proxmox

    with recorded_proxmox() as params:
        yield UnderTest(driver_for("proxmox", params), ("debian-12", "ubuntu-24-04"), True)


DRIVERS = {"sandbox": sandbox, "libvirt-test": libvirt_test, "proxmox-recorded": proxmox_recorded}


# Bare metal: sushy-tools' Redfish emulator in front of real QEMU machines ---------------------------------------


class EmulatedRack:
    """sushy-emulator (the Redfish service OpenStack Ironic tests against) serving three libvirt domains on
    qemu:///system as three physical machines, each with a virtual CD; the installer, rescue, wipe and ISO
    images come from a local HTTP server, which the emulator downloads from as a BMC would."""

    def __init__(self) -> None:
        import http.server
        import socket
        import subprocess
        import threading
        import urllib.request
        import uuid

        import libvirt

        libvirt.registerErrorHandler(lambda *_: None, None)
        try:
            self.conn = libvirt.open("qemu:///system")
        except libvirt.libvirtError as error:
            pytest.skip(f"no libvirtd at qemu:///system ({error.get_error_message()}); .ci/run starts one")
        tag = uuid.uuid4().hex[:8]
        self.root = Path("/var/lib/libvirt/images") / f"megalayer-redfish-{tag}"
        (self.root / "pool").mkdir(parents=True)
        media = self.root / "media"
        for sub, names in {"installers": ("debian-12", "ubuntu-24-04"), "isos": ("debian-13-netinst",)}.items():
            (media / sub).mkdir(parents=True)
            for image in names:
                (media / sub / f"{image}.iso").write_bytes(b"\0" * 65536)
        for image in ("rescue", "wipe"):
            (media / f"{image}.iso").write_bytes(b"\0" * 65536)
        handler = _quiet_handler(http.server.SimpleHTTPRequestHandler, str(media))
        self.media_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.media_server.serve_forever, daemon=True).start()
        self.media_url = f"http://127.0.0.1:{self.media_server.server_address[1]}"

        self.pool = self.conn.storagePoolDefineXML(
            f"<pool type='dir'><name>megalayer-redfish-{tag}</name><target><path>{self.root}</path></target></pool>",
            0,
        )
        self.pool.create(0)
        kvm = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"
        self.names = [f"metal-{tag}-{n}" for n in range(3)]
        for n, name in enumerate(self.names):
            disk = self.root / "pool" / f"{name}.qcow2"
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
            self.conn.defineXML(
                f"""<domain type='{kvm}'><name>{name}</name><memory unit='MiB'>1024</memory><vcpu>1</vcpu>
                <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
                <devices>
                  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
                    <source file='{disk}'/><target dev='sda' bus='sata'/></disk>
                  <disk type='file' device='cdrom'><driver name='qemu' type='raw'/>
                    <target dev='sdb' bus='sata'/><readonly/></disk>
                  <interface type='user'><mac address='52:54:00:7e:00:{n:02x}'/><model type='e1000'/></interface>
                </devices></domain>"""
            )
        # The emulator names systems by the domain's UUID (it redirects a name to it) and checks access by it.
        self.systems = {name: self.conn.lookupByName(name).UUIDString() for name in self.names}
        config = self.root / "emulator.conf"
        config.write_text(
            "SUSHY_EMULATOR_LIBVIRT_URI = 'qemu:///system'\n"
            f"SUSHY_EMULATOR_ALLOWED_INSTANCES = {sorted(self.systems.values())!r}\n"
            f"SUSHY_EMULATOR_STORAGE_POOL = 'megalayer-redfish-{tag}'\n"
            "SUSHY_EMULATOR_IGNORE_BOOT_DEVICE = False\n"
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        executable = Path(sys.executable).parent / "sushy-emulator"
        self.log = open(self.root / "emulator.log", "wb")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [str(executable), "--config", str(config), "--interface", "127.0.0.1", "--port", str(port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # ready when the service root answers
            try:
                with urllib.request.urlopen(f"{self.url}/redfish/v1/", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("sushy-emulator did not start") from None
                time.sleep(0.2)

    def reset(self) -> None:
        """Every machine off with its CD empty, as a rack is between tests."""
        for name in self.names:
            domain = self.conn.lookupByName(name)
            if domain.isActive():
                domain.destroy()

    @contextmanager
    def images_finish(self, *, wipe: bool = True) -> Iterator[None]:
        """Play the part of the images that end by powering the machine off: the unattended installers (and,
        unless ``wipe`` is False, the wipe image), which an empty ISO cannot do itself. A machine found
        booting one of them twice in a row (so it has finished starting) is powered off, until the block ends."""
        import threading
        import xml.etree.ElementTree as ET

        import libvirt

        finishing = ("debian-12-iso", "ubuntu-24-04-iso", *(("wipe-iso",) if wipe else ()))
        done = threading.Event()

        def booting_a_finishing_image(domain: Any) -> bool:
            tree = ET.fromstring(domain.XMLDesc(0))
            cdrom = tree.find("devices/disk[@device='cdrom']")
            if cdrom is None:
                return False
            source = cdrom.find("source")
            image = Path(source.get("file", "")).name if source is not None else ""
            # The emulator sets the boot device as per-device order (<boot order='1'/>) or, on older
            # releases, as <os><boot dev=...>: either way, is the CD first?
            order = cdrom.find("boot")
            first = order is not None and order.get("order") == "1"
            first = first or [b.get("dev") for b in tree.findall("os/boot")][:1] == ["cdrom"]
            return first and image.startswith(finishing)

        def watch() -> None:
            # Running (not still starting: libvirt keeps a starting domain paused until QEMU's monitor is
            # connected, and stopping it then fails the BMC's power-on) at three looks in a row.
            seen: dict[str, int] = {}
            while not done.wait(0.5):
                for name in self.names:
                    domain = self.conn.lookupByName(name)
                    running = domain.isActive() and domain.state()[0] == libvirt.VIR_DOMAIN_RUNNING
                    if not (running and booting_a_finishing_image(domain)):
                        seen.pop(name, None)
                        continue
                    seen[name] = seen.get(name, 0) + 1
                    if seen[name] >= 3:
                        with suppress(libvirt.libvirtError):  # stopped meanwhile: the same end
                            domain.destroy()
                        seen.pop(name, None)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()

    def close(self) -> None:
        import shutil

        import libvirt

        if getattr(self, "process", None) is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.log.close()
        self.media_server.shutdown()
        for name in getattr(self, "names", []):
            try:
                domain = self.conn.lookupByName(name)
            except libvirt.libvirtError:  # never defined (the set-up stopped early)
                continue
            if domain.isActive():
                domain.destroy()
            domain.undefine()
        self.pool.destroy()
        self.pool.undefine()
        self.pool = None
        shutil.rmtree(self.root, ignore_errors=True)
        self.conn.close()


def _quiet_handler(base: type, directory: str) -> type:
    class Handler(base):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=directory, **kwargs)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class RackDirectory:
    """The inventory as the driver sees it, in memory: the platform reserves a machine for a server before
    it asks the driver to install (``reserve``), and the driver releases it after the wipe."""

    def __init__(self, rack: EmulatedRack) -> None:
        from megalayer.provisioning.drivers.base import Bmc

        self.free = [Bmc(rack.url, "admin", "password", system=rack.systems[n], verify_tls=False) for n in rack.names]
        self.held: dict[str, Bmc] = {}
        self.released: list[str] = []

    def reserve(self, name: str) -> None:
        if name not in self.held:
            self.held[name] = self.free.pop(0)

    def machine_for(self, name: str) -> Bmc | None:
        return self.held.get(name)

    def machines(self) -> dict[str, Bmc]:
        return dict(self.held)

    def release(self, name: str, *, wiped: bool) -> None:
        self.free.append(self.held.pop(name))
        self.released.append(name)


_rack: list[EmulatedRack] = []


def emulated_rack() -> EmulatedRack:
    """One rack per test process (starting QEMU machines and the emulator takes seconds), closed at exit."""
    import atexit

    if not _rack:
        _rack.append(EmulatedRack())
        atexit.register(_rack[0].close)
    return _rack[0]


@contextmanager
def redfish_emulated() -> Iterator[UnderTest]:
    if not HAS_LIBVIRT or not HAS_SUSHY:
        pytest.skip("sushy and libvirt-python are needed (the 'redfish' and 'libvirt' extras)")
    from megalayer.provisioning.drivers.redfish import RedfishDriver, forget_connections

    rack = emulated_rack()
    rack.reset()
    directory = RackDirectory(rack)
    media = rack.media_url
    params = {
        "installer_url": f"{media}/installers/{{image}}.iso",
        "rescue_url": f"{media}/rescue.iso",
        "iso_url": f"{media}/isos/{{iso}}.iso",
        "wipe_url": f"{media}/wipe.iso",
        "wipe_timeout": "120",
        "install_timeout": "120",
        "power_timeout": "60",
    }
    try:
        with rack.images_finish():
            yield UnderTest(
                RedfishDriver(params, timeout=30, directory=directory),
                ("debian-12", "ubuntu-24-04"),
                False,
                observes_disk=False,
                prepare=directory.reserve,
                rack=rack,
            )
    finally:
        forget_connections()


DRIVERS["redfish-emulated"] = redfish_emulated
