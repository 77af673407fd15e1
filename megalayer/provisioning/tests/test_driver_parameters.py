"""Duration parameters are parsed exactly (Decimal), and a wait that could never end is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from megalayer.provisioning.drivers.base import TerminalError
from megalayer.provisioning.drivers.sandbox import SandboxDriver


@pytest.mark.parametrize(("text", "seconds"), [("0.25", Decimal("0.25")), ("", Decimal(0)), (" 2 ", Decimal(2))])
def test_a_duration_is_read_exactly(text: str, seconds: Decimal) -> None:
    driver = SandboxDriver({"pool": "p", "latency_seconds": text})
    assert driver.seconds("latency_seconds") == seconds


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "-1"])
def test_a_duration_that_is_not_a_finite_wait_is_a_terminal_error(text: str) -> None:
    driver = SandboxDriver({"pool": "p", "latency_seconds": text})
    with pytest.raises(TerminalError, match="latency_seconds"):
        driver.seconds("latency_seconds")
