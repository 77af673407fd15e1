"""The daily automation over N services all due the same day, on SQLite and PostgreSQL.

Seeds N active services whose term ends in seven days (the renewal invoice and the
7-day reminder are due for all), runs ``automation_run`` once and reports services
per second and the number of queries. The reference, in the same run on the same
data, is hand-written set-based SQL writing the same rows (invoices, lines, postings,
effects, notices) with one statement per table for the whole population.

    uv run python bench/automation.py [--services 2000] [--databases sqlite postgresql]

The platform's run writes those steps a batch at a time (one lock, one insert per
table), so its query count grows with the number of batches, not of services.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
START = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows = []
    for database in args.databases:
        rows.append((database, *measure_in_subprocess(database, args.services)))
    header = [
        "database".ljust(11),
        "services".rjust(8),
        "platform svc/s".rjust(14),
        "queries".rjust(8),
        "reference svc/s".rjust(15),
        "ratio".rjust(6),
    ]
    print("\n" + " | ".join(header))
    print("-" * 78)
    for database, services, ours, queries, reference in rows:
        print(
            f"{database:<11} | {services:>8} | {ours:>14,.0f} | {queries:>8} | {reference:>15,.0f} | "
            f"{ours / reference:>6.3f}"
        )


def measure_in_subprocess(database: str, services: int) -> tuple[int, float, int, float]:
    import subprocess

    result = subprocess.run(  # noqa: S603 (this script, run as a child)
        [sys.executable, __file__, "--child", database, str(services)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    last = result.stdout.strip().splitlines()[-1].split()
    return int(last[0]), float(last[1]), int(last[2]), float(last[3])


def child(database: str, services: int) -> None:
    name = f"mgl_bench_auto_{uuid.uuid4().hex[:8]}"
    if database == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=url,
        MEGALAYER_SECRET_KEY="bench",
        MEGALAYER_TASKS="database",  # delivering mail is the worker's job, not the run's
        MEGALAYER_LOG_LEVEL="ERROR",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from megalayer.core import clock
    from megalayer.services.actions.automation import automation_run

    try:
        call_command("migrate", verbosity=0)
        seed(services)
        run_at = START + dt.timedelta(days=24)  # renewal invoices and the 7-day reminders are due for all
        with clock.travel(run_at), CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            automation_run()
            ours = time.perf_counter() - started
        count = len(queries.captured_queries)
        if os.environ.get("BENCH_SHOW_QUERIES"):
            from collections import Counter

            shapes = Counter(q["sql"][:90] for q in queries.captured_queries)
            for shape, seen in shapes.most_common(8):
                print(seen, shape, file=sys.stderr)
        reference = reference_sql(services)
        print(services, services / ours, count, services / reference)
    finally:
        connection.close()
        if database == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(services: int) -> None:
    from megalayer.accounts.models import Customer, User
    from megalayer.catalog.models import Location, NetworkTier, Product
    from megalayer.core import clock
    from megalayer.services.models import Service

    with clock.travel(START):
        product = Product.objects.create(
            code="bench",
            name="Bench VPS",
            kind="vps",
            location=Location.objects.first(),
            tier=NetworkTier.objects.first(),
            cpu_cores=1,
            memory_gb=1,
            disk_gb=10,
            bandwidth_tb=Decimal("1"),
        )
        users = User.objects.bulk_create([User(email=f"b{i}@bench.invalid", password="!") for i in range(services)])
        customers = Customer.objects.bulk_create([Customer(owner=u, created_at=START) for u in users])
        Service.objects.bulk_create(
            [
                Service(
                    customer=c,
                    product=product,
                    status="active",
                    cycle="monthly",
                    recurring_amount=Decimal("10"),
                    currency="USD",
                    anchor_day=10,
                    paid_until=START + dt.timedelta(days=31),
                    created_at=START,
                    auto_renew=False,
                )
                for c in customers
            ]
        )


def reference_sql(services: int) -> float:
    """The same rows written by hand-written set-based SQL: one statement per table for the whole population."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE ref_invoices (service_id bigint, customer_id bigint, number bigint, "
            "subtotal numeric(20,4), total numeric(20,4), status varchar(8), issued_at timestamp)"
        )
        cursor.execute(
            "CREATE TEMP TABLE ref_lines (service_id bigint, kind varchar(32), reference varchar(64), "
            "amount numeric(20,4))"
        )
        cursor.execute("CREATE TEMP TABLE ref_postings (service_id bigint, account varchar(16), amount numeric(20,4))")
        cursor.execute("CREATE TEMP TABLE ref_effects (service_id bigint, kind varchar(24), at timestamp)")
        cursor.execute(
            "CREATE TEMP TABLE ref_notices (service_id bigint, kind varchar(32), dedupe_key varchar(200), "
            "recipient varchar(254), subject varchar(255), body text)"
        )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ref_invoices SELECT id, customer_id, id, recurring_amount, recurring_amount, "
            "'issued', %s FROM services_service",
            [START],
        )
        cursor.execute("INSERT INTO ref_lines SELECT id, 'renewal', public_id, recurring_amount FROM services_service")
        for account, sign in (("receivable", -1), ("revenue", 1)):
            cursor.execute(
                "INSERT INTO ref_postings SELECT id, %s, %s * recurring_amount FROM services_service", [account, sign]
            )
        for kind in ("renewal_invoice", "reminder"):
            cursor.execute("INSERT INTO ref_effects SELECT id, %s, %s FROM services_service", [kind, START])
        for kind in ("invoice_issued", "renewal_reminder"):
            cursor.execute(
                "INSERT INTO ref_notices SELECT id, %s, %s || public_id, 'x@example.com', 'subject', "
                "'body' FROM services_service",
                [kind, kind],
            )
    return time.perf_counter() - started


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
