"""Real parallel clients against a real platform process, on SQLite (a file) and on PostgreSQL.

The platform runs as `megalayer serve` (granian, two worker processes) on its own
database; the test only speaks HTTP to it and reads results through
`megalayer shell`, as an operator would.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from megalayer.testing_platform import Platform

pytestmark = pytest.mark.slow


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
