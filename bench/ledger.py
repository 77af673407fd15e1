"""Ledger throughput on PostgreSQL: postings per second with 1, 4 and 16 parallel clients.

Each client records top-ups through ``ledger_post`` (two postings each, with the
idempotency check, the balance-account lock and the transaction row). The
reference, measured in the same run on the same server, is the same number of
bare ``INSERT`` statements of posting-shaped rows into a table without
constraints, one per statement, from the same number of clients. The ratio says
what the ledger's guarantees cost.

    uv run python bench/ledger.py [--transactions 400] [--clients 1 4 16]

Needs a PostgreSQL server (``--admin-url``, default the local one); it creates
and drops its own database.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_clients(clients: int, per_client: int, work: Callable[[int, int], None]) -> float:
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client(number: int) -> None:
        from django.db import connection

        try:
            barrier.wait()
            for index in range(per_client):
                work(number, index)
        except BaseException as error:  # reported after the run
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--transactions", type=int, default=400, help="ledger transactions per client count")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    database = f"mgl_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    base = args.admin_url.rsplit("/", 1)[0]
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"{base}/{database}",
        MEGALAYER_SECRET_KEY="bench",
        MEGALAYER_TASKS="immediate",
        MEGALAYER_LOG_LEVEL="WARNING",
    )
    try:
        rows = measure(args.transactions, args.clients)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print()
    print(f"{'clients':>7} | {'ledger postings/s':>17} | {'bare INSERT rows/s':>18} | {'ratio':>6}")
    print(f"{'-' * 7}-+-{'-' * 17}-+-{'-' * 18}-+-{'-' * 6}")
    for clients, ledger_rate, bare_rate in rows:
        print(f"{clients:>7} | {ledger_rate:>17,.0f} | {bare_rate:>18,.0f} | {ledger_rate / bare_rate:>6.2f}")


def measure(transactions: int, client_counts: list[int]) -> list[tuple[int, float, float]]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from megalayer.accounts.models import Customer, User
    from megalayer.core import clock
    from megalayer.core.money import Money
    from megalayer.ledger.actions import Leg, customer_balance_account, ledger_account, ledger_post
    from megalayer.ledger.models import LedgerAccount

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_posting_reference (id bigserial PRIMARY KEY, transaction_id bigint, "
            "account_id bigint, amount numeric(20, 4), currency varchar(3))"
        )
    results = []
    for clients in client_counts:
        per_client = max(1, transactions // clients)
        customers = []
        for number in range(clients):
            user = User.objects.create_user(f"bench{clients}-{number}@example.com", None)
            customers.append(Customer.objects.create(owner=user, created_at=clock.now()))
        clearing = ledger_account(kind=LedgerAccount.Kind.GATEWAY_CLEARING, currency="USD", gateway="bench")
        accounts = [customer_balance_account(customer, "USD") for customer in customers]
        amount = Money.of("1.00", "USD")

        def ledger_work(
            number: int,
            index: int,
            clients: int = clients,
            clearing: LedgerAccount = clearing,
            amount: Money = amount,
            accounts: list[LedgerAccount] = accounts,
            customers: list[Customer] = customers,
        ) -> None:
            ledger_post(
                source="bench",
                idempotency_key=f"{clients}-{number}-{index}",
                description="bench",
                requirement="TOS-BAL-2",
                legs=[Leg(clearing, -amount), Leg(accounts[number], amount)],
                customer=customers[number],
            )

        def bare_work(number: int, index: int) -> None:
            with connection.cursor() as cursor:
                for sign in (-1, 1):
                    cursor.execute(
                        "INSERT INTO bench_posting_reference (transaction_id, account_id, amount, currency) "
                        "VALUES (%s, %s, %s, %s)",
                        [index, number, sign, "USD"],
                    )

        ledger_seconds = run_clients(clients, per_client, ledger_work)
        bare_seconds = run_clients(clients, per_client, bare_work)
        postings = 2 * per_client * clients
        results.append((clients, postings / ledger_seconds, postings / bare_seconds))
        print(
            f"{clients} clients: {postings} postings, ledger {ledger_seconds:.2f}s, bare {bare_seconds:.2f}s",
            flush=True,
        )
    return results


if __name__ == "__main__":
    main()
