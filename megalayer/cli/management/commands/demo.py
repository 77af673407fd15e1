"""``megalayer demo``: migrate and load demo data (idempotent), then say how to sign in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP
from django.core.management.base import BaseCommand

from megalayer.abuse.actions.holds import legal_hold_place
from megalayer.accounts.actions import BillingData, billing_profile_update, customer_signup_complete, staff_create
from megalayer.accounts.models import Customer, User
from megalayer.affiliates.actions import affiliate_code_for, referral_record
from megalayer.affiliates.models import Referral
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
from megalayer.catalog.models import AddOn, IsoImage, Location, NetworkTier, OsImage, PriceVersion, Product
from megalayer.catalog.seed import ensure_catalog_seed
from megalayer.cli.management.commands.serve import prepare_database
from megalayer.core import clock
from megalayer.core.money import Money
from megalayer.core.transactions import rehearsal
from megalayer.network.models import Prefix
from megalayer.notices.models import NetworkNotice
from megalayer.orders.actions import order_place
from megalayer.privacy.actions import erasure_request
from megalayer.privacy.actions.policy import privacy_policy_accept, privacy_policy_publish
from megalayer.privacy.models import PrivacyPolicyAcceptance, PrivacyPolicyVersion
from megalayer.provisioning.actions.network_notices import network_notice_publish
from megalayer.provisioning.actions.runner import operations_run_due
from megalayer.provisioning.models import Host
from megalayer.services.actions import service_provision
from megalayer.services.actions.automation import automation_run
from megalayer.services.models import Service
from megalayer.support.actions import ticket_open
from megalayer.support.models import Ticket
from megalayer.support.queries import departments
from megalayer.terms.actions import RequestInfo, terms_accept, terms_publish
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.policy import default_policy_data

TERMS_V1 = Path(__file__).resolve().parents[3] / "terms" / "fixtures" / "terms-of-service-v1.txt"
PRIVACY_V1 = Path(__file__).resolve().parents[3] / "privacy" / "fixtures" / "privacy-policy-v1.txt"
STAFF = ("staff@megalayer.test", "demo-staff-password", "Sam Staff")
# Staff need a second factor (issue 14). The demo's is public, printed with the logins: add it to any
# authenticator app (or `oathtool --totp -b SECRET`). A real deployment's staff set up their own.
DEMO_STAFF_TOTP_SECRET = "MEGALAYERDEMOSTAFFTOTPSECRET2345"
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
        with rehearsal():
            load_demo()
        self.stdout.write("\nMegalayer demo data is ready.\n")
        self.stdout.write("  Client area:  http://127.0.0.1:8000/account/")
        self.stdout.write("  Back office:  http://127.0.0.1:8000/backoffice/")
        self.stdout.write("  API docs:     http://127.0.0.1:8000/api/v1/docs")
        self.stdout.write(f"  Staff:        {STAFF[0]} / {STAFF[1]}")
        self.stdout.write(f"                second factor: TOTP secret {DEMO_STAFF_TOTP_SECRET} (oathtool --totp -b …)")
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
    if not PrivacyPolicyVersion.objects.exists():
        privacy_policy_publish(
            body=PRIVACY_V1.read_text(encoding="utf-8"),
            summary="First published version.",
            update_date=dt.date(2024, 2, 16),
            effective_at=clock.now(),
            staff=None,
            actor=system,
        )
    privacy = PrivacyPolicyVersion.objects.order_by("number").first()
    assert privacy is not None
    if not User.objects.filter(email=STAFF[0]).exists():
        staff = staff_create(
            email=STAFF[0],
            password=STAFF[1],
            full_name=STAFF[2],
            actor=system,
            roles=("admin", "legal"),
            superuser=True,
        )
        EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
        TOTP.activate(staff, DEMO_STAFF_TOTP_SECRET)
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
        privacy_policy_accept(
            user=user, version=privacy, method=PrivacyPolicyAcceptance.Method.SIGNUP, ip_address="127.0.0.1"
        )
    load_demo_billing()
    load_demo_services()
    load_demo_support()
    load_demo_privacy()
    load_demo_affiliates()


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


PRODUCTS = [
    # code, name, kind, location, tier, cpu, memory GB, disk GB, traffic TB, monthly price
    ("vps-hkg-premium-2g", "VPS Premium 2G", "vps", "hkg", "premium", 2, 2, 40, "1", "18.00"),
    ("vps-hkg-standard-2g", "VPS Standard 2G", "vps", "hkg", "standard", 2, 2, 40, "2", "9.00"),
    ("vps-hkg-intl-2g", "VPS International 2G", "vps", "hkg", "international", 2, 2, 40, "3", "6.00"),
    ("vps-sin-premium-4g", "VPS Premium 4G", "vps", "sin", "premium", 4, 4, 80, "2", "32.00"),
    ("vps-sjc-intl-4g", "VPS International 4G", "vps", "sjc", "international", 4, 4, 80, "4", "12.00"),
    ("vps-mnl-standard-2g", "VPS Standard 2G", "vps", "mnl", "standard", 2, 2, 40, "1", "10.00"),
    ("ded-hkg-premium-e3", "Dedicated E3-1230", "dedicated", "hkg", "premium", 8, 32, 960, "10", "169.00"),
    ("ded-sin-standard-e5", "Dedicated E5-2680", "dedicated", "sin", "standard", 28, 64, 1920, "20", "129.00"),
]


def load_demo_services() -> None:
    """Products in every location and tier, and services in each state a customer meets."""

    if Product.objects.exists():
        return

    ensure_catalog_seed()  # idempotent; restores the seed if someone removed it
    load_demo_network()
    epoch = clock.now() - dt.timedelta(days=400)

    extra_ip, _ = AddOn.objects.get_or_create(
        code="ipv4", defaults={"name": "Extra IPv4 address", "kind": "ipv4", "monthly_amount": Decimal("3.00")}
    )
    snapshots, _ = AddOn.objects.get_or_create(
        code="snapshots",
        defaults={
            "name": "Scheduled snapshots",
            "kind": "snapshots",
            "monthly_amount": Decimal("2.00"),
            "max_quantity": 1,
        },
    )
    for iso_code, iso_name in (
        ("debian-13-netinst", "Debian 13 net installer"),
        ("systemrescue-12", "SystemRescue 12"),
    ):
        IsoImage.objects.get_or_create(code=iso_code, defaults={"name": iso_name})
    for code, name, kind, location, tier, cpu, memory, disk, traffic, price in PRODUCTS:
        product = Product.objects.create(
            code=code,
            name=name,
            kind=kind,
            location=Location.objects.get(code=location),
            tier=NetworkTier.objects.get(code=tier),
            cpu_cores=cpu,
            memory_gb=memory,
            disk_gb=disk,
            bandwidth_tb=Decimal(traffic),
        )
        product.os_images.set(OsImage.objects.all())
        extra_ip.products.add(product)
        if kind == "vps":
            snapshots.products.add(product)
        for cycle, months in (("monthly", 1), ("quarterly", 3), ("annual", 12)):
            discount = Decimal("0.95") if cycle == "annual" else Decimal(1)
            PriceVersion.objects.create(
                product=product,
                cycle=cycle,
                amount=(Decimal(price) * months * discount).quantize(Decimal("0.01")),
                currency="USD",
                effective_at=epoch,
                created_at=epoch,
            )
    alice = Customer.objects.get(owner__email=CUSTOMERS[0][0])
    bob = Customer.objects.get(owner__email=CUSTOMERS[1][0])
    debian = OsImage.objects.get(code="debian-12")
    actor = Actor.system("demo loader")
    now = clock.now()
    # Bob: one service that lapsed and was deleted, one that lapsed three days ago (suspended)
    for days_ago, code in ((45, "vps-sjc-intl-4g"), (34, "vps-mnl-standard-2g")):
        with clock.travel(now - dt.timedelta(days=days_ago)):
            product = Product.objects.get(code=code)
            order = order_place(customer=bob, product=product, cycle="monthly", os_image=debian, actor=actor)
            assert order.invoice is not None
            payment = payment_start(
                customer=bob, amount=order.invoice.amount_due, gateway="sandbox", invoice=order.invoice
            )
            payment_succeeded(payment=payment)  # paid by card for exactly this order: nothing left for renewals
            _provision_now(bob)
    for days_ago in range(40, -1, -1):
        with clock.travel(now - dt.timedelta(days=days_ago)):
            automation_run()
            operations_run_due()  # what the worker does: suspensions and deletions reach the sandbox
    # Alice: an active service paid from her balance
    payment_succeeded(payment=payment_start(customer=alice, amount=Money.of("18.00", "USD"), gateway="sandbox"))
    order_place(
        customer=alice,
        product=Product.objects.get(code="vps-hkg-premium-2g"),
        cycle="monthly",
        os_image=debian,
        actor=actor,
    )
    _provision_now(alice)


def load_demo_support() -> None:
    """A ticket waiting for staff, a maintenance window announced for Hong Kong, the staff member in every
    department (so the desk's mail reaches someone)."""

    staff = User.objects.get(email=STAFF[0])
    for department in departments():
        department.members.add(staff)
    alice = Customer.objects.get(owner__email=CUSTOMERS[0][0])
    if not Ticket.objects.exists():
        ticket_open(
            customer=alice,
            department=departments().get(code="technical"),
            subject="Slow downloads from Shanghai in the evening",
            body="Since Monday, downloads from my server to **Shanghai** drop to about 2 MB/s after 20:00.\n\n"
            "- mtr attached in the next message\n- daytime is fine",
            user=alice.owner,
            service=alice.services.first(),
        )
    if not NetworkNotice.objects.exists():
        start = (clock.now() + dt.timedelta(days=5)).replace(hour=18, minute=0, second=0, microsecond=0)
        network_notice_publish(
            staff=staff,
            kind="maintenance",
            title="Core router software upgrade in Hong Kong",
            body="Each of the two core routers is upgraded in turn; expect up to two short interruptions of a few "
            "seconds while sessions move over.",
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            location=Location.objects.get(code="hkg"),
        )


def load_demo_privacy() -> None:
    """A former customer who deleted their account (erasure scheduled) while a preservation request
    holds their data, so the back office's Account deletions and Legal holds pages show both."""

    email = "former@example.net"
    if User.objects.filter(email=email).exists():
        return
    user = User.objects.create_user(email, None, full_name="Frank Former")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    customer = customer_signup_complete(user=user, signup_ip="127.0.0.1")
    staff = User.objects.get(email=STAFF[0])
    legal_hold_place(
        staff=staff, customer=customer, reason="Preservation request PR-2026-044 (police, fraud inquiry)",
        order_reference="PR-2026-044",
    )  # fmt: skip
    erasure_request(customer=customer, actor=Actor.for_user(user), requested_by=email, note="asked in the client area")


def load_demo_affiliates() -> None:
    """Alice referred Bob; both signed up from this machine, so the referral waits in the staff queue."""

    alice = Customer.objects.get(owner__email=CUSTOMERS[0][0])
    bob = Customer.objects.get(owner__email=CUSTOMERS[1][0])
    if not Referral.objects.filter(referred=bob).exists():
        referral_record(referred=bob, code=affiliate_code_for(alice).code)


def load_demo_network() -> None:
    """A sandbox host in every location (labelled as such) and an IPv4 /28 and IPv6 /64 per location and tier
    (documentation ranges: 203.0.113.0/24, 198.51.100.0/24, 2001:db8::/32)."""

    ipv4 = [f"203.0.113.{16 * i}/28" for i in range(16)] + [f"198.51.100.{16 * i}/28" for i in range(16)]
    index = 0
    for location in Location.objects.order_by("code"):
        Host.objects.get_or_create(
            name=f"{location.code}-sandbox-1",
            defaults={
                "driver": "sandbox",
                # a second per call, so the client area's progress display has something to show
                "parameters": {"pool": location.code, "latency_seconds": "1"},
                "location": location,
                "capacity_vcpus": 256,
                "capacity_memory_gb": 1024,
                "capacity_disk_gb": 20_000,
                "created_at": clock.now(),
            },
        )
        for tier in NetworkTier.objects.order_by("sort_order"):
            base = ipv4[index]
            Prefix.objects.get_or_create(
                cidr=base,
                defaults={
                    "family": 4,
                    "location": location,
                    "tier": tier,
                    "gateway": base.rsplit(".", 1)[0] + "." + str(int(base.rsplit(".", 1)[1].split("/")[0]) + 1),
                },
            )
            Prefix.objects.get_or_create(
                cidr=f"2001:db8:{index + 1:x}::/64", defaults={"family": 6, "location": location, "tier": tier}
            )
            index += 1


def _provision_now(customer: Customer) -> None:
    """The demo loader runs without a worker: provision and run the machine operations in-process."""

    for service in Service.objects.filter(customer=customer, status="pending"):
        service_provision(service=service)
    operations_run_due()
