"""One contract, every driver (issue 5, must-show 1): the same tests run against each, skipping by capability."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from megalayer.provisioning.drivers import driver_for
from megalayer.provisioning.drivers.base import (
    Capability,
    ImageRef,
    IsoRef,
    PowerState,
    ServerNotFound,
    ServerSpec,
    TerminalError,
    Unsupported,
)
from megalayer.provisioning.tests.drivers_under_test import DRIVERS, UnderTest

pytestmark = pytest.mark.django_db


# Bare metal runs real QEMU machines behind the Redfish emulator: the slow group, with libvirtd (.ci/run).
@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.slow, pytest.mark.qemu] if name.startswith("redfish") else [])
        for name in sorted(DRIVERS)
    ]
)
def under_test(request: pytest.FixtureRequest) -> Iterator[UnderTest]:
    with DRIVERS[request.param]() as value:
        yield value


def _spec(ut: UnderTest, name: str = "srv-contract-1", image: int = 0) -> ServerSpec:
    ut.prepare(name)
    return ServerSpec(
        name=name,
        hostname=f"{name}.example.net",
        vcpus=1,
        memory_mib=512,
        disk_gib=10,
        image=ImageRef(ut.images[image]),
        root_password="correct horse battery staple",
    )


def _need(ut: UnderTest, capability: Capability) -> None:
    if not ut.driver.supports(capability):
        pytest.skip(f"{ut.driver.name} does not support {capability.value}")


def test_create_is_idempotent_by_name_and_lists_the_machine_once(under_test):
    driver = under_test.driver
    first = driver.create(_spec(under_test))
    assert first.power == PowerState.RUNNING
    assert first.image == under_test.images[0]
    again = driver.create(_spec(under_test))  # a retried create: the same machine, not a second one
    assert again.disk_id == first.disk_id
    assert driver.state("srv-contract-1") == again
    assert [s.name for s in driver.list_servers()].count("srv-contract-1") == 1


def test_power_off_on_and_reboot(under_test):
    driver = under_test.driver
    driver.create(_spec(under_test))
    assert driver.power_off("srv-contract-1", soft_timeout=1).power == PowerState.STOPPED
    assert driver.state("srv-contract-1").power == PowerState.STOPPED
    assert driver.power_on("srv-contract-1").power == PowerState.RUNNING
    assert driver.reboot("srv-contract-1").power == PowerState.RUNNING


def test_reinstall_replaces_the_disk_with_the_new_image(under_test):
    driver = under_test.driver
    before = driver.create(_spec(under_test))
    after = driver.reinstall("srv-contract-1", ImageRef(under_test.images[1]), root_password="n3w-secret")
    assert (after.disk_id != before.disk_id) is under_test.observes_disk
    assert after.image == under_test.images[1]
    assert after.power == PowerState.RUNNING
    assert driver.state("srv-contract-1").disk_id == after.disk_id


def test_suspend_and_resume(under_test):
    driver = under_test.driver
    driver.create(_spec(under_test))
    suspended = driver.suspend("srv-contract-1")
    if driver.supports(Capability.SUSPEND_POWER_OFF):  # bare metal: off, disks kept
        assert (suspended.power, suspended.network_suspended) == (PowerState.STOPPED, False)
        assert driver.state("srv-contract-1").power == PowerState.STOPPED
        assert driver.resume("srv-contract-1").power == PowerState.RUNNING
        return
    assert suspended.network_suspended is True
    if driver.supports(Capability.PAUSE):
        assert suspended.power == PowerState.PAUSED
    else:
        assert driver.supports(Capability.SUSPEND_NETWORK)
        assert suspended.power == PowerState.RUNNING
    resumed = driver.resume("srv-contract-1")
    assert (resumed.network_suspended, resumed.power) == (False, PowerState.RUNNING)


def test_snapshots_create_list_restore_delete(under_test):
    _need(under_test, Capability.SNAPSHOTS)
    driver = under_test.driver
    driver.create(_spec(under_test))
    made = driver.snapshot_create("srv-contract-1", "before-upgrade")
    assert made.name == "before-upgrade"
    assert [s.name for s in driver.snapshot_list("srv-contract-1")] == ["before-upgrade"]
    assert driver.snapshot_restore("srv-contract-1", "before-upgrade").name == "srv-contract-1"
    driver.snapshot_delete("srv-contract-1", "before-upgrade")
    assert driver.snapshot_list("srv-contract-1") == []


def test_traffic_counters(under_test):
    _need(under_test, Capability.TRAFFIC)
    driver = under_test.driver
    driver.create(_spec(under_test))
    counters = driver.traffic("srv-contract-1")
    assert isinstance(counters.rx_bytes, int)
    assert counters.rx_bytes >= 0
    assert counters.tx_bytes >= 0


def test_evidence_copy(under_test):
    _need(under_test, Capability.EVIDENCE_COPY)
    driver = under_test.driver
    driver.create(_spec(under_test))
    copy = driver.evidence_copy("srv-contract-1", "case-42")
    assert "case-42" in copy.name
    assert copy.location
    assert driver.state("srv-contract-1").power == PowerState.RUNNING  # the machine runs on


def test_rescue_boots_the_rescue_system_and_back_keeping_the_disk(under_test):
    _need(under_test, Capability.RESCUE)
    driver = under_test.driver
    before = driver.create(_spec(under_test))
    inside = driver.rescue_enter("srv-contract-1", root_password="one-time-Pass-42")
    assert (inside.rescue, inside.power, inside.disk_id) == (True, PowerState.RUNNING, before.disk_id)
    assert driver.state("srv-contract-1").rescue is True
    out = driver.rescue_exit("srv-contract-1")
    assert (out.rescue, out.power, out.disk_id) == (False, PowerState.RUNNING, before.disk_id)


def test_an_iso_is_inserted_booted_and_ejected(under_test):
    _need(under_test, Capability.ISO)
    driver = under_test.driver
    before = driver.create(_spec(under_test))
    inserted = driver.iso_insert("srv-contract-1", IsoRef(under_test.iso))
    assert (inserted.iso, inserted.power, inserted.disk_id) == (under_test.iso, PowerState.RUNNING, before.disk_id)
    ejected = driver.iso_eject("srv-contract-1")
    assert (ejected.iso, ejected.disk_id) == ("", before.disk_id)
    assert driver.state("srv-contract-1").iso == ""


def test_an_iso_the_host_does_not_have_is_a_terminal_error(under_test):
    _need(under_test, Capability.ISO)
    if not under_test.checks_images:
        pytest.skip(f"{under_test.driver.name} keeps no image store to check against")
    driver = under_test.driver
    driver.create(_spec(under_test))
    with pytest.raises(TerminalError):
        driver.iso_insert("srv-contract-1", IsoRef("no-such-installer"))
    assert driver.state("srv-contract-1").iso == ""


def test_a_driver_without_a_capability_refuses_the_call_as_unsupported(under_test):
    driver = under_test.driver
    missing = [c for c in (Capability.RESCUE, Capability.ISO, Capability.CONSOLE) if not driver.supports(c)]
    if not missing:
        pytest.skip(f"{driver.name} supports rescue, ISO and console")
    driver.create(_spec(under_test))
    calls = {
        Capability.RESCUE: lambda: driver.rescue_enter("srv-contract-1", root_password="x"),
        Capability.ISO: lambda: driver.iso_insert("srv-contract-1", IsoRef(under_test.iso)),
        Capability.CONSOLE: lambda: driver.console("srv-contract-1"),
    }
    for capability in missing:
        with pytest.raises(Unsupported):
            calls[capability]()
    assert (driver.state("srv-contract-1").rescue, driver.state("srv-contract-1").iso) == (False, "")


def test_bandwidth_limit_is_set_and_lifted(under_test):
    _need(under_test, Capability.SHAPING)
    driver = under_test.driver
    driver.create(_spec(under_test))
    assert driver.bandwidth_limit("srv-contract-1", 10).power == PowerState.RUNNING
    assert driver.bandwidth_limit("srv-contract-1", None).power == PowerState.RUNNING


def test_destroy_removes_the_machine_and_a_second_destroy_is_fine(under_test):
    driver = under_test.driver
    driver.create(_spec(under_test))
    driver.create(_spec(under_test, name="srv-contract-2"))
    wiped = driver.destroy("srv-contract-1", wipe=True)
    assert wiped is driver.supports(Capability.WIPE)
    with pytest.raises(ServerNotFound):
        driver.state("srv-contract-1")
    driver.destroy("srv-contract-1")  # gone already: not an error
    assert [s.name for s in driver.list_servers()] == ["srv-contract-2"]


def test_unknown_machines_are_not_found_and_not_retryable(under_test):
    driver = under_test.driver
    for call in (driver.state, driver.power_on, driver.reboot, driver.suspend):
        with pytest.raises(ServerNotFound) as caught:
            call("srv-nobody")
        assert caught.value.retryable is False


def test_an_image_the_host_does_not_have_is_a_terminal_error(under_test):
    if not under_test.checks_images:
        pytest.skip(f"{under_test.driver.name} has no image store: every image code exists")
    with pytest.raises(TerminalError) as caught:
        under_test.driver.create(dataclasses.replace(_spec(under_test), image=ImageRef("nope")))
    assert caught.value.retryable is False
    assert "srv-contract-1" not in [s.name for s in under_test.driver.list_servers()]


def test_parameters_are_checked_and_secrets_masked(under_test):
    driver = under_test.driver
    masked = driver.masked_parameters()
    secret = [p.name for p in driver.parameters if p.secret]
    for name in secret:
        assert masked[name] in ("", "••••••")
        assert driver.params[name] not in masked.values() or not driver.params[name]
    with pytest.raises(TerminalError, match="unknown parameter"):
        driver_for(driver.name, {**driver.params, "colour": "blue"})
    required = [p.name for p in driver.parameters if p.required]
    if required:
        with pytest.raises(TerminalError, match="missing parameter"):
            driver_for(driver.name, {k: v for k, v in driver.params.items() if k != required[0]})
