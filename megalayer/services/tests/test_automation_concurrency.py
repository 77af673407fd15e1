"""Two runs at once, and runs killed with SIGKILL at random points: nothing twice, nothing lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from typing import IO

import pytest

from megalayer.testing_platform import ROOT, Platform

pytestmark = pytest.mark.slow
SERVICES = 60
EFFECTS_PER_SERVICE = 4  # renewal invoice, expiry, suspension, termination (reminders are past by then)


def _run(platform: Platform) -> subprocess.Popen[bytes]:
    """A run whose stderr goes to a file: a pipe nobody reads fills at 64 KB and blocks the run's logging."""
    from megalayer.services.tests.scenarios import RUN_AT

    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the process in _finish
    process = subprocess.Popen(
        [sys.executable, "-m", "megalayer.cli", "automation", "run", "--at", RUN_AT],
        env={**platform.env, "PYTHONFAULTHANDLER": "1"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    LOGS[process.pid] = log
    return process


LOGS: dict[int, IO[bytes]] = {}


def _stderr(process: subprocess.Popen[bytes]) -> str:
    log = LOGS.pop(process.pid, None)
    if log is None:
        return ""
    log.seek(0)
    text = log.read().decode(errors="replace")[-20000:]
    log.close()
    return text


def _finish(process: subprocess.Popen[bytes], timeout: float = 300) -> int:
    """Wait for a run; if it hangs, make it print where it is (faulthandler on SIGABRT) before failing."""
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        process.wait(timeout=30)
        raise AssertionError("the run hung; its threads at that moment:\n" + _stderr(process)) from None
    if code != 0:
        raise AssertionError(f"the run failed ({code}):\n" + _stderr(process))
    _stderr(process)
    return code


def _assert_exactly_once(platform: Platform) -> None:
    platform.shell("from megalayer.services.tests.scenarios import operations_sweep; operations_sweep()")
    report = platform.shell("from megalayer.services.tests.scenarios import report; report()")
    assert report == {
        "services": SERVICES,
        "terminated": SERVICES,
        "renewal_invoices": SERVICES,
        "duplicate_invoices": 0,
        "duplicate_notices": 0,
        "effects": SERVICES * EFFECTS_PER_SERVICE,
        "terminations_notified": SERVICES,
        "ledger_problems": [],
    }


def test_two_runs_started_at_the_same_moment(platform: Platform) -> None:
    platform.shell(f"from megalayer.services.tests.scenarios import seed; seed({SERVICES})")
    first, second = _run(platform), _run(platform)
    assert _finish(first) == 0
    assert _finish(second) == 0
    _assert_exactly_once(platform)


def test_runs_killed_at_random_points_then_restarted(platform: Platform) -> None:
    platform.shell(f"from megalayer.services.tests.scenarios import seed; seed({SERVICES})")
    chance = random.Random(20261126)
    for _ in range(20):
        process = _run(platform)
        time.sleep(chance.uniform(0.8, 3.0))  # Django starts in ~0.8 s; kills land before, during and after work
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        _stderr(process)
    final = _run(platform)
    assert _finish(final) == 0
    _assert_exactly_once(platform)
