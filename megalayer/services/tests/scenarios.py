"""Scenarios run inside a real platform process by the automation concurrency tests."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal

from megalayer.accounts.actions import BillingData, billing_profile_update, customer_signup_complete
from megalayer.accounts.models import User
from megalayer.audit.actions import Actor
from megalayer.billing.models import InvoiceLine
from megalayer.catalog.models import Location, NetworkTier, PriceVersion, Product
from megalayer.core import clock
from megalayer.ledger.queries import ledger_verify
from megalayer.notices.models import Notice
from megalayer.orders.actions import order_place
from megalayer.services.models import LifecycleEffect, Service

START = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)
RUN_AT = "2027-02-20T10:00Z"  # every step is due: invoice, reminder, expiry, suspension, deletion


def seed(count: int) -> None:
    """``count`` unpaid-for-renewal services of ``count`` customers, all due on the same day."""
    with clock.travel(START):
        product = Product.objects.create(
            code="vps-race",
            name="VPS race",
            kind="vps",
            location=Location.objects.get(code="hkg"),
            tier=NetworkTier.objects.get(code="standard"),
            cpu_cores=1,
            memory_gb=1,
            disk_gb=20,
            bandwidth_tb=Decimal("1"),
        )
        PriceVersion.objects.create(
            product=product, cycle="monthly", amount=Decimal("0"), currency="USD", effective_at=START, created_at=START
        )
        from megalayer.catalog.models import OsImage
        from megalayer.conftest import hkg_sandbox

        product.os_images.set(OsImage.objects.filter(code="debian-12"))

        hkg_sandbox(product.location, product.tier)  # where the servers are built (sandbox) and their addresses
        for index in range(count):
            user = User.objects.create_user(f"r{index}@example.com", None)
            customer = customer_signup_complete(user=user, signup_ip=None)
            billing_profile_update(
                customer=customer, data=BillingData(name="R", address_line1="1", city="HK", country="HK")
            )
            order_place(customer=customer, product=product, cycle="monthly", os_image=None, actor=Actor.system("seed"))
        # the renewal price is what the service pays; a free first month keeps the seed fast
        Service.objects.update(recurring_amount=Decimal("10.00"))
    print(json.dumps({"services": Service.objects.count()}))


def operations_sweep() -> None:
    """What the worker's sweep does after the runs: destroy operations lost with a killed run are taken back
    (their lease expired) and finished."""
    from megalayer.provisioning.actions.runner import operations_run_due

    at = dt.datetime.fromisoformat(RUN_AT.replace("Z", "+00:00")) + dt.timedelta(hours=1)
    with clock.travel(at):
        print(json.dumps(operations_run_due()))


def report() -> None:
    invoices = Counter(InvoiceLine.objects.filter(kind="renewal").values_list("reference", flat=True))
    notices = Counter(Notice.objects.values_list("dedupe_key", flat=True))
    print(
        json.dumps(
            {
                "services": Service.objects.count(),
                "terminated": Service.objects.filter(status="terminated").count(),
                "renewal_invoices": len(invoices),
                "duplicate_invoices": sum(1 for n in invoices.values() if n > 1),
                "duplicate_notices": sum(1 for n in notices.values() if n > 1),
                "effects": LifecycleEffect.objects.count(),
                "terminations_notified": Notice.objects.filter(kind="service_terminated").count(),
                "ledger_problems": ledger_verify().problems,
            }
        )
    )
