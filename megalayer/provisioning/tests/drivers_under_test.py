"""The drivers the contract suite runs against, each on what this machine has: the sandbox on the test
database, libvirt on its ``test:///`` driver with the repository's node file, Proxmox against a local HTTPS
server that answers with recorded Proxmox VE API responses (Proxmox's servers are not on this machine)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from megalayer.provisioning.drivers import driver_for
from megalayer.provisioning.drivers.base import Driver

FIXTURES = Path(__file__).parent / "fixtures"
LIBVIRT_NODE = FIXTURES / "libvirt-test-node.xml"
HAS_LIBVIRT = importlib.util.find_spec("libvirt") is not None
HAS_PROXMOXER = importlib.util.find_spec("proxmoxer") is not None


@dataclass(frozen=True)
class UnderTest:
    driver: Driver
    images: tuple[str, str]  # two images the host has
    checks_images: bool  # refuses an image it does not have
    iso: str = "debian-13-netinst"  # an installer ISO the host has


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
