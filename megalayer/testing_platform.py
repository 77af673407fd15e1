"""A real platform process for tests: its own database (SQLite file or PostgreSQL), `megalayer` commands,
and `megalayer serve` on a free port. Tests speak to it as an operator would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# How long a real-process test waits for something to become ready before it gives up. Generous on purpose:
# the wait ends as soon as the thing is ready, and a busy two-core machine can take minutes to start servers.
READY_BOUND = 300.0


def wait_until[T](check: Callable[[], T | None], what: str, bound: float = READY_BOUND) -> T:
    """Poll ``check`` until it returns something other than None/False; fail naming ``what`` after ``bound``
    seconds. Tests wait on readiness this way, never on a fixed sleep sized for an idle machine."""
    deadline = time.monotonic() + bound
    pause = 0.02
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {bound:.0f} s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@dataclass
class Platform:
    env: dict[str, str]
    base_url: str = ""

    def command(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "megalayer.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def shell(self, code: str) -> Any:
        lines = [line for line in self.command("shell", "-c", code).splitlines() if line.startswith("{")]
        return json.loads(lines[-1])


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip(
            "real-process tests build their own SQLite and PostgreSQL databases: the default (SQLite) run "
            "already runs each against both, so the PostgreSQL run would only repeat them"
        )
    database = f"mgl_race_{uuid.uuid4().hex[:10]}"
    if request.param == "postgresql":
        if not _pg_available():
            pytest.skip("no PostgreSQL server at 127.0.0.1:5432 (.ci/run starts one)")
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        url = f"postgres://postgres@127.0.0.1:5432/{database}"
    else:
        url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "MEGALAYER_SECRET_KEY": "race-test-key",
        "MEGALAYER_DEBUG": "false",
        "MEGALAYER_SECURE_COOKIES": "false",
        "MEGALAYER_TASKS": "immediate",
        "MEGALAYER_LOG_LEVEL": "WARNING",
        # Fifty clients from one address measure races, not the rate limits (api/tests/test_rate_limits.py).
        "MEGALAYER_API_RATE_PER_TOKEN": "",
        "MEGALAYER_API_RATE_PER_ADDRESS": "",
    }
    platform = Platform(env=env)
    platform.command("migrate", "--verbosity", "0")
    platform.command("createcachetable")
    yield platform
    if request.param == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def server(platform: Platform, tmp_path: Path) -> Iterator[Platform]:
    port = free_port()
    log = (tmp_path / "serve.log").open("w+b")  # a file, not a pipe: nobody reads a pipe until it fills
    process = subprocess.Popen(
        [sys.executable, "-m", "megalayer.cli", "serve", "--no-migrate", "--port", str(port), "--workers", "2"],
        env=platform.env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    platform.base_url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            log.seek(0)
            raise AssertionError(f"the platform exited ({process.returncode}):\n{log.read().decode()[-3000:]}")
        try:
            urllib.request.urlopen(f"{platform.base_url}/api/v1/openapi.json", timeout=10)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        return True

    try:
        wait_until(answers, f"megalayer serve to answer on port {port}")
        yield platform
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
