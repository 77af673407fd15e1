"""``megalayer demo``: migrate and load demo data (idempotent), then say how to sign in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from megalayer.accounts.actions import BillingData, billing_profile_update, customer_signup_complete, staff_create
from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor
from megalayer.billing.actions import (
    LineData,
    invoice_create,
    invoice_issue,
    payment_start,
    payment_succeeded,
    tax_rate_save,
)
from megalayer.billing.models import Invoice, TaxRate
from megalayer.core import clock
from megalayer.core.management.commands.serve import prepare_database
from megalayer.core.money import Money
from megalayer.terms.actions import RequestInfo, terms_accept, terms_publish
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.policy import default_policy_data

TERMS_V1 = Path(__file__).resolve().parents[3] / "terms" / "fixtures" / "terms-of-service-v1.txt"
STAFF = ("staff@megalayer.test", "demo-staff-password", "Sam Staff")
CUSTOMERS = [
    (
        "alice@example.com",
        "demo-alice-password",
        "Alice Chen",
        BillingData(name="Alice Chen", address_line1="1 Queen's Road Central", city="Hong Kong", country="HK"),
    ),
    (
        "bob@example.com",
        "demo-bob-password",
        "Bob Santos",
        BillingData(
            name="Bob Santos",
            organisation="Santos Hosting Inc.",
            address_line1="88 Ayala Avenue",
            city="Makati",
            postal_code="1226",
            country="PH",
            tax_id="PH123456789",
        ),
    ),
]


class Command(BaseCommand):
    help = "Migrate the database and load demo data: staff, two customers, the Terms as version 1."

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_database(verbosity=0)
        with transaction.atomic():
            load_demo()
        self.stdout.write("\nMegalayer demo data is ready.\n")
        self.stdout.write("  Client area:  http://127.0.0.1:8000/account/")
        self.stdout.write("  Back office:  http://127.0.0.1:8000/backoffice/")
        self.stdout.write("  API docs:     http://127.0.0.1:8000/api/v1/docs")
        self.stdout.write(f"  Staff:        {STAFF[0]} / {STAFF[1]}")
        for email, password, *_ in CUSTOMERS:
            self.stdout.write(f"  Customer:     {email} / {password}")
        self.stdout.write("")


def load_demo() -> None:
    system = Actor.system("demo loader")
    if not TermsVersion.objects.exists():
        terms_publish(
            body=TERMS_V1.read_text(encoding="utf-8"),
            summary="First published version.",
            update_date=dt.date(2024, 2, 16),
            effective_at=clock.now(),
            policy=default_policy_data(),
            actor=system,
        )
    version = TermsVersion.objects.order_by("number").first()
    assert version is not None
    if not User.objects.filter(email=STAFF[0]).exists():
        staff = staff_create(email=STAFF[0], password=STAFF[1], full_name=STAFF[2], actor=system)
        EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    for email, password, name, billing in CUSTOMERS:
        if User.objects.filter(email=email).exists():
            continue
        user = User.objects.create_user(email, password, full_name=name)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        customer = customer_signup_complete(user=user, signup_ip="127.0.0.1")
        billing_profile_update(customer=customer, data=billing)
        terms_accept(
            user=user,
            version=version,
            method=TermsAcceptance.Method.SIGNUP,
            request_info=RequestInfo(ip_address="127.0.0.1", user_agent="megalayer demo"),
        )
    load_demo_billing()


TAX_RATES = [
    ("DE", "USt", "19.00", True),
    ("FR", "TVA", "20.00", True),
    ("NL", "BTW", "21.00", True),
    ("GB", "VAT", "20.00", False),
    ("SG", "GST", "9.00", False),
    ("JP", "JCT", "10.00", False),
    ("PH", "VAT", "12.00", False),
]


def load_demo_billing() -> None:
    """Tax rates, a sandbox top-up and invoices in each state, so every billing page has content."""
    staff = User.objects.get(email=STAFF[0])
    if not TaxRate.objects.exists():
        for country, name, rate, eu in TAX_RATES:
            tax_rate_save(country=country, name=name, rate=Decimal(rate), eu_member=eu, staff=staff)
    if Invoice.objects.exists():
        return
    system = Actor.system("demo loader")
    alice = Customer.objects.get(owner__email=CUSTOMERS[0][0])
    bob = Customer.objects.get(owner__email=CUSTOMERS[1][0])
    payment_succeeded(payment=payment_start(customer=alice, amount=Money.of("50.00", "USD"), gateway="sandbox"))
    for customer, description, price in [
        (alice, "VPS Premium HKG-2 (demo)", "18.00"),
        (bob, "Dedicated E3 SIN (demo)", "129.00"),
    ]:
        draft = invoice_create(
            customer=customer, lines=[LineData(kind="demo", description=description, unit_price=Money.of(price, "USD"))]
        )
        invoice_issue(invoice=draft, actor=system)
