"""Issue 14, item 1: staff enter the back office and the Django admin only through the allauth sign-in, with
its lockout, and with a second factor in the session. ``/admin/login/`` no longer gives a session for the
password alone."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, hotp_value
from django.test import Client

from megalayer.accounts.models import User
from megalayer.conftest import PASSWORD, sign_in_staff

pytestmark = pytest.mark.django_db


def _totp_code(secret: str) -> str:
    import time

    from allauth.mfa import app_settings

    return f"{hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD):0{app_settings.TOTP_DIGITS}d}"


def test_the_admin_login_page_gives_no_session_for_a_password(staff: User) -> None:
    staff.is_superuser = True
    staff.save()
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/login/?next=")
    assert "_auth_user_id" not in client.session  # nobody is signed in
    assert client.get("/admin/").status_code == 302
    back = client.get("/backoffice/")
    assert (back.status_code, back["Location"]) == (302, "/auth/login/?next=%2Fbackoffice%2F")


def test_a_password_only_staff_session_must_add_a_second_factor(staff: User) -> None:
    client = Client()
    client.force_login(staff)  # a session without any second factor
    response = client.get("/backoffice/customers/")
    assert (response.status_code, response["Location"]) == (
        302,
        "/auth/2fa/totp/activate/?next=%2Fbackoffice%2Fcustomers%2F",
    )
    TOTP.activate(staff, generate_totp_secret())
    response = client.get("/backoffice/customers/")  # has a factor now, but did not use it in this session
    assert (response.status_code, response["Location"]) == (
        302,
        "/auth/2fa/reauthenticate/?next=%2Fbackoffice%2Fcustomers%2F",
    )


def test_staff_sign_in_through_allauth_with_totp_then_enter(staff: User) -> None:
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    client = Client()
    first = client.post("/auth/login/", {"login": staff.email, "password": PASSWORD})
    assert (first.status_code, first["Location"]) == (302, "/auth/2fa/authenticate/")
    assert client.get("/backoffice/").status_code == 302  # the second step is not done yet
    second = client.post("/auth/2fa/authenticate/", {"code": _totp_code(secret)})
    assert second.status_code == 302
    assert client.get("/backoffice/").status_code == 200


def test_staff_sign_in_has_the_same_lockout_as_customers(staff: User) -> None:
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    client = Client()
    for _ in range(5):
        wrong = client.post("/auth/login/", {"login": staff.email, "password": "not the password"})
        assert wrong.status_code == 200
    locked = client.post("/auth/login/", {"login": staff.email, "password": PASSWORD})
    assert locked.status_code == 200  # the form again: the right password no longer opens the account
    assert "Too many failed login attempts. Try again later." in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/backoffice/").status_code == 302


def test_the_admin_is_for_superusers_who_used_a_second_factor(staff: User) -> None:
    client = sign_in_staff(Client(), staff)
    assert client.get("/backoffice/").status_code == 200
    not_super = client.get("/admin/")
    assert (not_super.status_code, not_super["Location"]) == (302, "/admin/login/?next=/admin/")
    back = client.get(not_super["Location"])  # staff, but the admin is for superusers: back to the back office
    assert (back.status_code, back["Location"]) == (302, "/backoffice/")
    staff.is_superuser = True
    staff.save()
    assert client.get("/admin/").status_code == 200
    password_only = Client()
    password_only.force_login(staff)
    assert password_only.get("/admin/").status_code == 302
    assert Authenticator.objects.filter(user=staff).count() == 1
