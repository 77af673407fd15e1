"""Real parallel clients against a real platform process, on SQLite (a file) and on PostgreSQL.

The platform runs as `megalayer serve` (granian, two worker processes) on its own
database; the test only speaks HTTP to it and reads results through
`megalayer shell`, as an operator would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[3]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

pytestmark = pytest.mark.slow


def _free_port() -> int:
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
    }
    platform = Platform(env=env)
    platform.command("migrate", "--verbosity", "0")
    platform.command("createcachetable")
    yield platform
    if request.param == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def server(platform: Platform) -> Iterator[Platform]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "megalayer.cli", "serve", "--no-migrate", "--port", str(port), "--workers", "2"],
        env=platform.env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    platform.base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{platform.base_url}/api/v1/openapi.json", timeout=2)
            break
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError("the platform did not start") from None
            time.sleep(0.2)
    yield platform
    process.terminate()
    process.wait(timeout=20)


def _post(url: str, token: str) -> tuple[int, dict[str, Any], str]:
    request = urllib.request.Request(
        url, data=b"", method="POST", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers["Content-Type"]


def test_fifty_parallel_clients_spend_a_balance_exactly_once(server: Platform) -> None:
    seeded = server.shell("from megalayer.billing.tests.race import seed_pay_race; seed_pay_race(50)")
    barrier = threading.Barrier(50)
    results: list[tuple[int, dict[str, Any], str]] = []
    lock = threading.Lock()

    def pay(invoice: str) -> None:
        barrier.wait()
        outcome = _post(f"{server.base_url}/api/v1/invoices/{invoice}/pay", seeded["token"])
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=pay, args=(invoice,)) for invoice in seeded["invoices"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200] * 10 + [409] * 40
    refused = [body for status, body, _ in results if status == 409]
    assert {body["type"] for body in refused} == {"/problems/insufficient-balance"}
    assert {ctype for status, _, ctype in results if status == 409} == {"application/problem+json"}
    final = server.shell("from megalayer.billing.tests.race import report; report()")
    assert final == {"balance": "0.00", "paid": 10, "verify": []}
    server.command("ledger", "verify")


def test_twenty_invoices_issued_in_parallel_get_consecutive_numbers(platform: Platform) -> None:
    outcome = platform.shell("from megalayer.billing.tests.race import issue_race; issue_race(20)")
    assert outcome["errors"] == []
    assert outcome["numbers"] == list(range(1, 21))
