"""The libvirt driver on a real local QEMU (issue 5, must-show 1): create, reboot, reinstall with the disk
really replaced, destroy with wipe, and nothing left behind. KVM when /dev/kvm is usable, else software
emulation. The VM has no network interface; its disk is a small qcow2 made here, with a byte pattern that
tells the image's disk from the customer's data. ``.ci/run`` starts virtlogd and libvirtd for this group."""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from megalayer.provisioning.drivers.base import Capability, ImageRef, PowerState, ServerNotFound, ServerSpec
from megalayer.provisioning.tests.drivers_under_test import HAS_LIBVIRT

URI = "qemu:///system"
IMAGES = Path("/var/lib/libvirt/images")  # the qemu user can reach it (unlike pytest's 0700 tmp dirs)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.qemu,
    pytest.mark.skipif(not HAS_LIBVIRT, reason="libvirt-python is not installed (needs Debian's libvirt-dev)"),
    pytest.mark.skipif(shutil.which("qemu-io") is None, reason="qemu-utils is not installed (.ci/run installs it)"),
]


def _qemu_io(path: Path, command: str) -> subprocess.CompletedProcess[str]:
    # Reads share the image with a running VM (-r -U); writes need it stopped.
    shared = ["-r", "-U"] if command.startswith("read") else []
    return subprocess.run(
        ["qemu-io", "-f", "qcow2", *shared, "-c", command, str(path)], capture_output=True, text=True, check=False
    )


def _has_pattern(path: Path, pattern: str, offset: str) -> bool:
    result = _qemu_io(path, f"read -P {pattern} {offset} 64k")
    return result.returncode == 0 and "Pattern verification failed" not in result.stdout + result.stderr


@pytest.fixture
def host() -> Iterator[dict[str, Any]]:
    import libvirt

    from megalayer.provisioning.drivers.libvirt_driver import forget_connection

    libvirt.registerErrorHandler(lambda *_: None, None)
    try:
        conn = libvirt.open(URI)
    except libvirt.libvirtError as error:
        pytest.skip(f"no libvirtd at {URI} ({error.get_error_message()}); .ci/run starts one")
    name = f"megalayer-test-{uuid.uuid4().hex[:8]}"
    directory = IMAGES / name
    pool = None
    try:
        directory.mkdir(parents=True)
        base = directory / "debian-12.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"], check=True)
        assert _qemu_io(base, "write -P 0xcd 1M 64k").returncode == 0  # "the operating system" of this image
        pool = conn.storagePoolDefineXML(
            f"<pool type='dir'><name>{name}</name><target><path>{directory}</path></target></pool>", 0
        )
        pool.create(0)
        usable_kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
        params = {"uri": URI, "pool": name, "domain_type": "kvm" if usable_kvm else "qemu", "cloud_init": "yes"}
        yield {"conn": conn, "pool": pool, "directory": directory, "params": params}
    finally:
        for domain in conn.listAllDomains(0):
            if domain.name().startswith("srv-qemu-test"):
                if domain.isActive():
                    domain.destroy()
                for snapshot in domain.listAllSnapshots():
                    snapshot.delete()
                domain.undefine()
        if pool is not None:
            pool.refresh(0)
            for volume in pool.listAllVolumes(0):
                volume.delete(0)
            pool.destroy()
            pool.undefine()
        shutil.rmtree(directory, ignore_errors=True)
        forget_connection(URI)
        conn.close()


FIRST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"
SECOND_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBa0x1gyq2X8GBgOeHEmXMqTQt1Obz8LMnQEnDANNN01 alice@desktop"


def _user_data(seed: Path) -> str:
    """The ``user-data`` file of the NoCloud seed ISO the guest boots with, as cloud-init reads it."""
    import io

    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open(str(seed))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/user-data")
        return out.getvalue().decode()
    finally:
        iso.close()


def test_create_reboot_reinstall_destroy_on_real_qemu(host):
    from megalayer.provisioning.drivers.libvirt_driver import LibvirtDriver

    driver = LibvirtDriver(host["params"], timeout=60)
    assert {Capability.WIPE, Capability.CLOUD_INIT} <= driver.capabilities
    name = f"srv-qemu-test-{uuid.uuid4().hex[:6]}"
    spec = ServerSpec(
        name=name,
        hostname="qemu-test.example.net",
        vcpus=1,
        memory_mib=128,
        disk_gib=1,
        image=ImageRef("debian-12"),
        root_password="first-Password-1",
        ssh_keys=(FIRST_KEY,),
    )
    created = driver.create(spec)
    assert created.power == PowerState.RUNNING
    assert driver.create(spec).disk_id == created.disk_id  # retried: the same machine
    assert [s.name for s in driver.list_servers()] == [name]
    disk = host["directory"] / f"{name}-disk.qcow2"
    seed = host["directory"] / f"{name}-seed.iso"
    assert disk.exists()
    assert seed.exists()
    assert b"cidata" in seed.read_bytes()[: 64 * 1024]  # the cloud-init NoCloud volume label
    assert f"ssh_authorized_keys:\n  - {json.dumps(FIRST_KEY)}\n" in _user_data(seed)  # what cloud-init gives root
    assert _has_pattern(disk, "0xcd", "1M")  # cloned from the image

    assert driver.reboot(name).power == PowerState.RUNNING
    # No guest OS answers ACPI, so the soft shutdown times out and the plug is pulled.
    assert driver.power_off(name, soft_timeout=2).power == PowerState.STOPPED
    assert _qemu_io(disk, "write -P 0xab 0 64k").returncode == 0  # the customer's data
    assert _has_pattern(disk, "0xab", "0")
    assert driver.power_on(name).power == PowerState.RUNNING

    reinstalled = driver.reinstall(
        name,
        ImageRef("debian-12"),
        root_password="second-Password-2",
        ssh_keys=(SECOND_KEY,),
        user_data="#cloud-config\npackages: [nginx]\n",
    )
    assert reinstalled.power == PowerState.RUNNING
    archive = email.message_from_string(_user_data(seed))  # the platform's part, then the customer's
    assert archive.is_multipart()
    parts = [part for part in archive.walk() if not part.is_multipart()]
    ours, theirs = (bytes(part.get_payload(decode=True)).decode() for part in parts)
    assert [p.get_content_type() for p in parts] == ["text/cloud-config", "text/cloud-config"]
    assert f"ssh_authorized_keys:\n  - {json.dumps(SECOND_KEY)}\n" in ours  # the new system's keys only
    assert FIRST_KEY not in ours
    assert theirs == "#cloud-config\npackages: [nginx]\n"
    assert reinstalled.disk_id != created.disk_id
    driver.power_off(name, soft_timeout=1)
    assert not _has_pattern(disk, "0xab", "0")  # the customer's data is gone
    assert _has_pattern(disk, "0xcd", "1M")  # a fresh copy of the image

    assert driver.destroy(name, wipe=True) is True
    with pytest.raises(ServerNotFound):
        driver.state(name)
    assert driver.list_servers() == []
    host["pool"].refresh(0)
    assert sorted(host["pool"].listVolumes()) == ["debian-12.qcow2"]
    assert not disk.exists()
    assert not seed.exists()


def _tiny_iso(path: Path, label: str) -> None:
    """An ISO 9660 image with one file: enough for QEMU to attach it as a boot CD-ROM."""
    import io

    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=label)
    data = label.encode()
    iso.add_fp(io.BytesIO(data), len(data), "/README.;1")
    iso.write(str(path))
    iso.close()


def test_rescue_iso_and_console_on_real_qemu(host):
    """Rescue boots the rescue CD-ROM first with a fresh seed, ISO insert boots the installer first, and the
    console is a real VNC server on the listen address (the RFB greeting read off the socket)."""
    import socket
    import xml.etree.ElementTree as ET

    from megalayer.provisioning.drivers.base import IsoRef
    from megalayer.provisioning.drivers.libvirt_driver import LibvirtDriver

    _tiny_iso(host["directory"] / "rescue.iso", "RESCUE")
    _tiny_iso(host["directory"] / "debian-13-netinst.iso", "NETINST")
    host["pool"].refresh(0)
    driver = LibvirtDriver({**host["params"], "rescue_image": "rescue"}, timeout=60)
    assert {Capability.RESCUE, Capability.ISO, Capability.CONSOLE} <= driver.capabilities
    name = f"srv-qemu-test-{uuid.uuid4().hex[:6]}"
    spec = ServerSpec(
        name=name, hostname="rescue.example.net", vcpus=1, memory_mib=128, disk_gib=1, image=ImageRef("debian-12")
    )
    created = driver.create(spec)

    def boot_order() -> list[str]:
        root = ET.fromstring(host["conn"].lookupByName(name).XMLDesc(0))
        orders = []
        for disk in root.findall("devices/disk"):
            boot, source = disk.find("boot"), disk.find("source")
            if boot is not None and source is not None:
                orders.append((int(boot.get("order", "0")), Path(source.get("file", "")).name))
        return [name for _, name in sorted(orders)]

    rescued = driver.rescue_enter(name, root_password="rescue-Pass-77")
    assert (rescued.rescue, rescued.power, rescued.disk_id) == (True, PowerState.RUNNING, created.disk_id)
    assert boot_order() == ["rescue.iso", f"{name}-disk.qcow2"]
    assert '"rescue-Pass-77"' in _user_data(host["directory"] / f"{name}-seed.iso")
    back = driver.rescue_exit(name)
    assert (back.rescue, back.disk_id) == (False, created.disk_id)
    assert boot_order() == [f"{name}-disk.qcow2"]

    inserted = driver.iso_insert(name, IsoRef("debian-13-netinst"))
    assert inserted.iso == "debian-13-netinst"
    assert boot_order() == ["debian-13-netinst.iso", f"{name}-disk.qcow2"]
    assert driver.iso_eject(name).iso == ""
    assert boot_order() == [f"{name}-disk.qcow2"]

    endpoint = driver.console(name)
    assert endpoint.host == "127.0.0.1"
    with socket.create_connection((endpoint.host, endpoint.port), timeout=30) as vnc:
        assert vnc.recv(12) == b"RFB 003.008\n"  # QEMU's VNC server greets with its protocol version
    driver.destroy(name, wipe=True)
