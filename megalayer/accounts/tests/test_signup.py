import re

import pytest
from django.core import mail
from django.test import Client

from megalayer.accounts.models import Customer, User
from megalayer.terms.models import TermsAcceptance

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "carol@example.com",
    "password1": "a long enough passphrase 42",
    "password2": "a long enough passphrase 42",
    "full_name": "Carol Ng",
    "accept_terms": "on",
}


def test_signup_records_acceptance_with_version_time_ip_and_user_agent(terms_v1, django_capture_on_commit_callbacks):
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11) Chromium", REMOTE_ADDR="203.0.113.9")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/auth/signup/", {**SIGNUP, "terms_version": terms_v1.number})
    assert response.status_code == 302
    user = User.objects.get(email="carol@example.com")
    acceptance = TermsAcceptance.objects.get(user=user)
    assert (acceptance.version, acceptance.method) == (terms_v1, "signup")
    assert (acceptance.ip_address, acceptance.user_agent) == ("203.0.113.9", "Mozilla/5.0 (X11) Chromium")
    assert acceptance.accepted_at is not None
    customer = Customer.objects.get(owner=user)
    assert customer.signup_ip == "203.0.113.9"
    assert user.full_name == "Carol Ng"
    assert user.password_changed_at is not None
    assert user.password.startswith("md5$")  # the test hasher; production uses Argon2
    assert len(mail.outbox) == 1
    assert re.search(r"/auth/confirm-email/[^/\s]+/", str(mail.outbox[0].body))


def test_signup_without_accepting_terms_is_refused_and_creates_nothing(terms_v1):
    data = {**SIGNUP, "terms_version": terms_v1.number}
    del data["accept_terms"]
    response = Client().post("/auth/signup/", data)
    assert response.status_code == 200
    assert b"You must accept the Terms of Service to sign up." in response.content
    assert not User.objects.filter(email="carol@example.com").exists()
    assert TermsAcceptance.objects.count() == 0


def test_signup_against_a_superseded_version_is_refused(terms_v1):
    response = Client().post("/auth/signup/", {**SIGNUP, "terms_version": terms_v1.number + 1})
    assert b"changed to version 1 while you were signing up" in response.content
    assert not User.objects.filter(email="carol@example.com").exists()


def test_password_is_stored_with_argon2_in_production_settings():
    from config import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
