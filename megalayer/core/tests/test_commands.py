import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from megalayer.accounts.models import ApiToken, Customer, User
from megalayer.conftest import staff_totp
from megalayer.core import clock
from megalayer.core.models import ScheduledRun
from megalayer.core.scheduler import schedule_tick
from megalayer.terms.models import TermsAcceptance, TermsVersion

pytestmark = pytest.mark.django_db


def test_demo_loads_once_and_is_idempotent(capsys):
    call_command("demo")
    call_command("demo")
    assert TermsVersion.objects.count() == 1
    assert User.objects.filter(is_staff=True).count() == 1
    assert list(Customer.objects.order_by("owner__email").values_list("owner__email", "status")) == [
        ("alice@example.com", "active"),
        ("bob@example.com", "active"),
        ("former@example.net", "closed"),  # deleted the account; a legal hold keeps the data
    ]
    from megalayer.abuse.models import LegalHold
    from megalayer.privacy.models import ErasureRequest

    assert list(ErasureRequest.objects.values_list("customer__owner__email", "status")) == [
        ("former@example.net", "scheduled")
    ]
    assert LegalHold.objects.filter(customer__owner__email="former@example.net").count() == 1
    from megalayer.affiliates.models import Referral

    referral = Referral.objects.select_related("referrer__owner", "referred__owner").get()
    assert (referral.referrer.owner.email, referral.referred.owner.email, referral.signals) == (
        "alice@example.com", "bob@example.com", ["same sign-in address"],
    )  # fmt: skip
    assert TermsAcceptance.objects.count() == 2
    from megalayer.services.models import Service

    assert sorted(Service.objects.values_list("status", "reason")) == [
        ("active", ""),
        ("suspended", "overdue"),
        ("terminated", "overdue"),
    ]
    out = capsys.readouterr().out
    assert "staff@megalayer.test / demo-staff-password" in out
    assert "TOTP secret MEGALAYERDEMOSTAFFTOTPSECRET2345" in out
    assert "http://127.0.0.1:8000/backoffice/" in out


def test_the_demo_staff_enter_the_back_office_with_the_printed_second_factor():
    """Staff need a second factor (issue 14); the demo's is printed, and it works through the real sign-in."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import hotp_value
    from django.test import Client

    call_command("demo")
    client = Client()
    client.post("/auth/login/", {"login": "staff@megalayer.test", "password": "demo-staff-password"})
    code = hotp_value("MEGALAYERDEMOSTAFFTOTPSECRET2345", int(time.time()) // app_settings.TOTP_PERIOD)
    client.post("/auth/2fa/authenticate/", {"code": f"{code:0{app_settings.TOTP_DIGITS}d}"})
    assert client.get("/backoffice/").status_code == 200


def test_token_create_prints_a_working_token_once(alice, staff, capsys):
    call_command("token", "create", "--email", "alice@example.com", "--scope", "read")
    token = capsys.readouterr().out.strip()
    assert token.startswith("mgl_")
    stored = ApiToken.objects.get(user=alice.owner)
    assert token not in (stored.secret_hash, stored.prefix)
    with pytest.raises(CommandError, match="Only staff members"):
        call_command("token", "create", "--email", "alice@example.com", "--staff")
    with pytest.raises(CommandError, match="Staff tokens need two-factor authentication"):
        call_command("token", "create", "--email", "staff@megalayer.test", "--staff")
    assert not ApiToken.objects.filter(user=staff).exists()
    staff_totp(staff)
    call_command("token", "create", "--email", "staff@megalayer.test", "--staff")
    assert ApiToken.objects.get(user=staff).is_staff_token
    with pytest.raises(CommandError, match="no user"):
        call_command("token", "create", "--email", "nobody@example.com")


def test_each_schedule_slot_is_claimed_by_one_worker():
    # Both workers tick at the same moment: on the real clock the second tick could fall into the next slot of
    # a frequent job (and rightly claim it), so the moment is pinned.
    with clock.travel(dt.datetime(2027, 3, 1, 0, 0, 30, tzinfo=dt.UTC)):
        first = schedule_tick(worker="a")
        second = schedule_tick(worker="b")
    assert first == [
        "notices.deliver_due",
        "webhooks.deliver_due",
        "billing.apply_pending_payments",
        "services.automation",
        "provisioning.run_due",
        "provisioning.reconcile",
        "provisioning.traffic",
        "provisioning.snapshot_schedules",
        "provisioning.machines_assign",
        "support.auto_close",
        "abuse.deadlines",
        "privacy.erasures",
        "affiliates.commissions",
        "orders.cancel_unpaid",
    ]
    assert second == []
    assert list(ScheduledRun.objects.values_list("worker", flat=True)) == ["a"] * 14


def test_staff_create_and_roles_from_the_command_line(capsys):
    from megalayer.accounts.models import User

    call_command("staff", "create", "--email", "ops@megalayer.test", "--name", "Ops", "--roles", "operations,support")
    printed = capsys.readouterr().out
    member = User.objects.get(email="ops@megalayer.test")
    password = printed.split("first password ")[1].split(" ")[0]
    assert member.check_password(password)
    assert (member.is_staff, member.is_superuser, member.staff_roles) == (True, False, ["operations", "support"])
    with pytest.raises(CommandError, match="Unknown role"):
        call_command("staff", "roles", "--email", "ops@megalayer.test", "--roles", "operations,root")
    assert User.objects.get(pk=member.pk).staff_roles == ["operations", "support"]
    with pytest.raises(CommandError, match="exists already"):
        call_command("staff", "create", "--email", "OPS@megalayer.test", "--roles", "support")
    call_command("staff", "roles", "--email", "ops@megalayer.test", "--roles", "billing")
    assert capsys.readouterr().out.strip() == "ops@megalayer.test: roles billing"
