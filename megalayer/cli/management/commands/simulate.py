"""``megalayer simulate --customers N --days D``: a population of customers through D simulated days.

Each simulated customer orders a service and then behaves as real customers do:
most keep a balance and auto-renew, some pay their renewal late (and are recovered),
some let the service lapse (and lose it). The automation runs once a simulated day.
Everything happens inside one transaction that is rolled back at the end unless
``--keep`` is given, so it can run against the demo database.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections import Counter
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from megalayer.accounts.actions import BillingData, billing_profile_update, customer_signup_complete
from megalayer.accounts.models import User
from megalayer.audit.actions import Actor
from megalayer.billing.actions import payment_start, payment_succeeded
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import Invoice
from megalayer.catalog.queries import products_for_sale
from megalayer.core import clock
from megalayer.core.money import Money
from megalayer.core.transactions import rehearsal
from megalayer.orders.actions import order_place
from megalayer.provisioning.actions.runner import operations_run_due
from megalayer.services.actions import service_provision
from megalayer.services.actions.automation import automation_run
from megalayer.services.choices import LineKind
from megalayer.services.models import Service


class Rollback(Exception):
    """Raised to undo the simulation."""


class Command(BaseCommand):
    help = "Run a population of customers through simulated days and print what happened."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=50)
        parser.add_argument("--days", type=int, default=60)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--keep", action="store_true", help="Keep the simulated data (default: roll back).")

    def handle(self, *args: Any, **options: Any) -> None:
        products = list(products_for_sale())
        if not products:
            self.stderr.write("No products for sale: run `megalayer demo` first.")
            sys.exit(1)
        totals: Counter[str] = Counter()
        try:
            with rehearsal():
                self._simulate(options, products, totals)
                if not options["keep"]:
                    raise Rollback
        except Rollback:
            self.stdout.write("(simulation rolled back; --keep keeps it)")
        self.stdout.write("\nSummary")
        for key, value in sorted(totals.items()):
            self.stdout.write(f"  {key:<28} {value:>7}")

    def _simulate(self, options: dict[str, Any], products: list[Any], totals: Counter[str]) -> None:
        chance = random.Random(options["seed"])  # noqa: S311 (a reproducible simulation, not a secret)
        start = clock.now()
        actor = Actor.system("simulation")
        behaviour: dict[int, str] = {}
        for index in range(options["customers"]):
            user = User.objects.create_user(f"sim{options['seed']}-{index}@simulated.invalid", None)
            customer = customer_signup_complete(user=user, signup_ip=None)
            billing_profile_update(
                customer=customer,
                data=BillingData(name=f"Sim {index}", address_line1="1 Sim St", city="Hong Kong", country="HK"),
            )
            product = chance.choice(products)
            order = order_place(customer=customer, product=product, cycle="monthly", os_image=None, actor=actor)
            assert order.invoice is not None
            payment_succeeded(
                payment=payment_start(
                    customer=customer, amount=order.invoice.amount_due, gateway="sandbox", invoice=order.invoice
                )
            )
            behaviour[customer.pk] = chance.choices(["auto", "late", "lapse"], weights=[70, 15, 15])[0]
            if behaviour[customer.pk] == "auto":  # enough on the balance for two years of renewals with tax
                two_years = Money(order.recurring_amount * Decimal(30), order.currency).quantize()
                payment_succeeded(payment=payment_start(customer=customer, amount=two_years, gateway="sandbox"))
            totals[f"customers ({behaviour[customer.pk]})"] += 1
        for service in Service.objects.filter(status="pending"):
            service_provision(service=service)
        operations_run_due()  # the worker's part: the servers are built
        width = 40
        for day in range(1, options["days"] + 1):
            with clock.travel(start + dt.timedelta(days=day)):
                self._late_payers(behaviour, chance)
                counts = automation_run().counts()
                operations_run_due()  # suspensions and deletions reach the hypervisor
            totals.update(counts)
            done = int(width * day / options["days"])
            summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "quiet"
            self.stdout.write(f"day {day:>4} [{'#' * done}{'.' * (width - done)}] {summary}")
        for status, count in Counter(
            Service.objects.filter(customer__owner__email__endswith="@simulated.invalid").values_list(
                "status", flat=True
            )
        ).items():
            totals[f"services now {status}"] = count

    def _late_payers(self, behaviour: dict[int, str], chance: random.Random) -> None:
        """Late payers settle overdue renewals a few days after expiry (before deletion)."""
        overdue = Invoice.objects.filter(
            status=InvoiceStatus.ISSUED,
            lines__kind=LineKind.RENEWAL,
            customer_id__in=[pk for pk, kind in behaviour.items() if kind == "late"],
            due_at__lte=clock.now() - dt.timedelta(days=2),
        ).distinct()
        for invoice in overdue:
            # The customer pays the invoice itself by card: the payment reaches the balance, then that invoice.
            payment_succeeded(
                payment=payment_start(
                    customer=invoice.customer, amount=invoice.amount_due, gateway="sandbox", invoice=invoice
                )
            )
