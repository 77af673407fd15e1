"""``megalayer demo``: migrate and load demo data (idempotent), then say how to sign in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from megalayer.accounts.actions import BillingData, billing_profile_update, customer_signup_complete, staff_create
from megalayer.accounts.models import User
from megalayer.audit.actions import Actor
from megalayer.core import clock
from megalayer.core.management.commands.serve import prepare_database
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
