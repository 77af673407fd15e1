"""Fixtures shared by every app's tests."""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from allauth.account.models import EmailAddress
from django.apps import apps as django_apps
from django.core.cache import cache
from django.db.models.signals import post_migrate
from django.test import Client

from megalayer.abuse.models import AbuseCase
from megalayer.accounts.actions import customer_signup_complete, token_create
from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor
from megalayer.catalog.models import Location, NetworkTier, OsImage, PriceVersion, Product
from megalayer.core import clock
from megalayer.terms.actions import RequestInfo, terms_accept, terms_publish
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.policy import default_policy_data
from megalayer.testing_platform import platform, server  # noqa: F401 (fixtures for real-process tests)

PASSWORD = "correct horse battery staple"


def pytest_report_header() -> str:
    """The time the suite runs at, so a CI log shows each pinned moment (``MEGALAYER_TEST_AT``)."""
    pinned = os.environ.get("MEGALAYER_TEST_AT_APPLIED")
    from django.conf import settings

    zone = settings.MEGALAYER_PROVIDER_TIME_ZONE
    now = dt.datetime.now(dt.UTC).astimezone(ZoneInfo(zone))
    return f"clock: {now:%Y-%m-%d %H:%M:%S %z} in {zone}" + (f" (pinned at {pinned})" if pinned else " (real)")


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
    clock.set_time(None)


@pytest.fixture(scope="session", autouse=True)
def _no_stray_database_sessions(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Before pytest-django drops a PostgreSQL test database, end the sessions a real-process test's
    server (killed, its backend not yet gone) may have left on it; else the drop fails with "being
    accessed by other users" and the database is left behind."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def _reseed_after_flush(**kwargs: Any) -> None:
    """A transactional test ends with a flush, which empties the seed migrations' tables too; Django then sends
    ``post_migrate``, and this puts the reference rows back (locations, tiers, images, departments), so no test
    depends on which test ran before it on the same worker."""
    from django.apps import apps as registry

    from megalayer.catalog.seed import ensure_catalog_seed
    from megalayer.support.seed import seed as seed_departments

    ensure_catalog_seed()
    seed_departments(registry.get_model("support", "Department"))


post_migrate.connect(_reseed_after_flush, sender=django_apps.get_app_config("catalog"), dispatch_uid="tests.reseed")


def seed_catalog() -> None:
    """The seed migration's rows; a transactional test elsewhere on this worker may have flushed them."""
    from megalayer.catalog.seed import ensure_catalog_seed

    ensure_catalog_seed()


@pytest.fixture
def vps(db: Any) -> Product:
    seed_catalog()
    product = Product.objects.create(
        code="vps-hkg-premium-2g",
        name="VPS Premium 2G",
        kind="vps",
        location=Location.objects.get(code="hkg"),
        tier=NetworkTier.objects.get(code="premium"),
        cpu_cores=2,
        memory_gb=2,
        disk_gb=40,
        bandwidth_tb=Decimal("1"),
    )
    product.os_images.set(OsImage.objects.all())
    PriceVersion.objects.create(
        product=product,
        cycle="monthly",
        amount=Decimal("10.00"),
        currency="USD",
        effective_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        created_at=clock.now(),
    )
    hkg_sandbox(product.location, product.tier)
    return product


def redfish_host(location: Location, parameters: dict[str, str] | None = None) -> Any:
    """A Redfish host (a rack of physical machines, issue 19) in ``location``; bare metal has no capacity."""
    from megalayer.provisioning.models import Host

    return Host.objects.create(
        name="hkg-rack-a",
        driver="redfish",
        parameters=parameters or {"installer_url": "https://boot.example.net/installers/{image}.iso"},
        location=location,
        capacity_vcpus=0,
        capacity_memory_gb=0,
        capacity_disk_gb=0,
        created_at=clock.now(),
    )


def hkg_sandbox(location: Location, tier: NetworkTier) -> Any:
    """A sandbox host and an address pool where the test plans are built (198.18.0.0/22, RFC 2544's range)."""
    from megalayer.network.models import Prefix
    from megalayer.provisioning.models import Host

    Prefix.objects.get_or_create(
        cidr="198.18.0.0/22", defaults={"family": 4, "location": location, "tier": tier, "gateway": "198.18.0.1"}
    )
    host, _ = Host.objects.get_or_create(
        name="hkg-sandbox-1",
        defaults={
            "driver": "sandbox",
            "parameters": {"pool": "hkg"},
            "location": location,
            "capacity_vcpus": 4096,
            "capacity_memory_gb": 8192,
            "capacity_disk_gb": 200_000,
            "created_at": clock.now(),
        },
    )
    return host


@pytest.fixture(autouse=True)
def _audit_rows_removable_on_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """Transactional tests end with a flush, which the append-only triggers would refuse.

    Before the flush, remove the test's audit rows with the triggers lifted, then
    put the triggers back, so every test starts with them in place.
    """
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and (
        marker.kwargs.get("transaction") or marker.kwargs.get("serialized_rollback")
    )
    if not transactional and not {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    from django.db import connection

    from megalayer.core import append_only

    with connection.schema_editor() as editor:
        append_only.uninstall(editor, *append_only.APPEND_ONLY_TABLES)
        for table in ("ledger_posting", "ledger_ledgertransaction", "audit_auditevent", "audit_auditchainhead"):
            editor.execute(f"DELETE FROM {table}")
        append_only.install(editor, *append_only.APPEND_ONLY_TABLES)


# Version 1 of the tests' Terms is in force from before any moment a test travels to, whatever the real date:
# a test that publishes a later version, or works on a date it pins, never meets "before version 1's".
TERMS_V1_AT = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def terms_v1(db: Any) -> TermsVersion:
    with clock.travel(TERMS_V1_AT):
        return terms_publish(
            body="Megalayer Terms of Service\n\nService Term\n\nServices run from payment.\n",
            summary="First version.",
            update_date=dt.date(2024, 2, 16),
            effective_at=TERMS_V1_AT,
            policy=default_policy_data(),
            actor=Actor.system("test"),
        )


def make_customer(email: str, version: TermsVersion | None = None) -> Customer:
    user = User.objects.create_user(email, PASSWORD, full_name=email.split("@")[0].title())
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    customer = customer_signup_complete(user=user, signup_ip="192.0.2.10")
    if version is not None:
        terms_accept(
            user=user,
            version=version,
            method=TermsAcceptance.Method.SIGNUP,
            request_info=RequestInfo("192.0.2.10", "pytest"),
        )
    return customer


def open_case(service: Any, category: str = "spam") -> AbuseCase:
    """An open abuse case about ``service``, as confirmed intake would open it (fixture setup only)."""
    now = clock.now()
    return AbuseCase.objects.create(
        customer=service.customer, service=service, category=category, opened_at=now, deadline_at=now
    )


@pytest.fixture
def alice(terms_v1: TermsVersion) -> Customer:
    return make_customer("alice@example.com", terms_v1)


@pytest.fixture
def bob(terms_v1: TermsVersion) -> Customer:
    return make_customer("bob@example.com", terms_v1)


@pytest.fixture
def staff(db: Any) -> User:
    return make_staff("staff@megalayer.test", "admin")


def make_staff(email: str, *roles: str) -> User:
    """A staff member with these roles (accounts/roles.py) and a verified address; no second factor yet."""
    user = User.objects.create_user(email, PASSWORD, is_staff=True, staff_roles=list(roles))
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


@pytest.fixture
def alice_client(alice: Customer) -> Client:
    client = Client()
    client.force_login(alice.owner)
    return client


def record_sign_in(client: Client, user: User, *, second_factor: Any = None, confirmed: bool = False) -> Client:
    """Sign ``user`` in on ``client`` as allauth's sign-in does: its records of how and when (a password now,
    and the second factor if given), which the staff door reads. ``confirmed``: the password was also just
    confirmed again (allauth's reauthentication), which sensitive actions such as a new API token ask for."""
    import time

    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )

    client.force_login(user)
    records: list[dict[str, Any]] = [{"method": "password", "at": time.time(), "email": user.email}]
    if confirmed:
        records.append({"method": "password", "at": time.time(), "email": user.email, "reauthenticated": True})
    if second_factor is not None:
        records.append({"method": "mfa", "at": time.time(), "id": second_factor.pk, "type": second_factor.type})
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()
    return client


def staff_totp(user: User) -> Any:
    """The staff member's TOTP authenticator, made if there is none (MFA is mandatory for staff, issue 14)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if totp is None:
        totp = TOTP.activate(user, generate_totp_secret()).instance
    return totp


def sign_in_staff(client: Client, user: User) -> Client:
    """Sign ``user`` in with a password and a second factor (TOTP), which the back office demands (issue 14).
    The authenticator is made if the user has none."""
    return record_sign_in(client, user, second_factor=staff_totp(user))


@pytest.fixture
def staff_client(staff: User) -> Client:
    return sign_in_staff(Client(), staff)


def bearer(user: User, scope: str = "write", staff: bool = False) -> dict[str, Any]:
    # Until revoked: tests travel to pinned dates, which a 90-day token made today would not reach.
    if staff:
        staff_totp(user)  # staff tokens need a second factor on the account
    issued = token_create(user=user, name="test", scope=scope, staff=staff, expires_in_days=None)
    return {"HTTP_AUTHORIZATION": f"Bearer {issued.plaintext}"}


@dataclass
class Mailbox:
    """What a real local SMTP server (aiosmtpd) received."""

    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server on a free local port, with Django's SMTP backend pointed at it."""
    smtp = SmtpServer(port=free_port(), mailbox=Mailbox())
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": smtp.port, "timeout": 5},
        }
    }
    smtp.start()
    yield smtp
    smtp.stop()
