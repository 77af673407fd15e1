import datetime as dt

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.core import mail
from django.test import Client

from megalayer.accounts.models import BillingProfile
from megalayer.conftest import PASSWORD
from megalayer.core import clock

pytestmark = pytest.mark.django_db


def test_email_change_requires_re_verification(alice_client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/auth/email/", {"action_add": "", "email": "alice.new@example.com"})
    assert response.status_code == 302
    new = EmailAddress.objects.get(email="alice.new@example.com")
    assert (new.verified, new.primary) == (False, False)
    assert EmailAddress.objects.get(email="alice@example.com").primary
    assert [m.to for m in mail.outbox] == [["alice.new@example.com"]]
    assert "confirm-email" in str(mail.outbox[0].body)


def test_sessions_are_listed_and_others_can_be_signed_out(alice):
    laptop, phone = Client(HTTP_USER_AGENT="Laptop"), Client(HTTP_USER_AGENT="Phone")
    for client in (laptop, phone):
        assert client.post("/auth/login/", {"login": "alice@example.com", "password": PASSWORD}).status_code == 302
    assert UserSession.objects.filter(user=alice.owner).count() == 2
    page = laptop.get("/auth/sessions/")
    assert b"Laptop" in page.content
    assert b"Phone" in page.content
    laptop.post("/auth/sessions/", {})
    assert UserSession.objects.filter(user=alice.owner).count() == 1
    assert phone.get("/account/").status_code == 302  # signed out: sent to the login page
    assert laptop.get("/account/").status_code == 200


def test_old_password_prompts_a_change_once_per_session(alice):
    client = Client()
    client.force_login(alice.owner)
    with clock.travel(clock.now() + dt.timedelta(days=181)):
        first = client.get("/account/")
        assert b"Your password is more than 180 days old." in first.content
        assert b"more than 180 days old" not in client.get("/account/").content
    fresh = Client()
    fresh.force_login(alice.owner)
    assert b"more than 180 days old" not in fresh.get("/account/").content


def test_billing_profile_is_validated_and_saved(alice_client, alice):
    bad = alice_client.post(
        "/account/profile/", {"name": "Alice", "address_line1": "1 Road", "city": "HK", "country": "Hong Kong"}
    )
    assert bad.status_code == 200
    assert not BillingProfile.objects.filter(customer=alice).exists()
    good = alice_client.post(
        "/account/profile/",
        {"name": "Alice", "address_line1": "1 Road", "city": "Hong Kong", "country": "hk", "tax_id": "hk 123"},
    )
    assert good.status_code == 302
    profile = BillingProfile.objects.get(customer=alice)
    assert (profile.country, profile.tax_id) == ("HK", "HK123")


def test_two_factor_page_offers_totp_and_security_keys(alice_client):
    page = alice_client.get("/auth/2fa/").content.decode()
    assert "Authenticator App" in page
    assert "Security Keys" in page
    assert "Recovery Codes" in page


def test_another_customers_token_cannot_be_revoked(alice_client, bob):
    from megalayer.accounts.actions import token_create
    from megalayer.accounts.models import ApiToken

    issued = token_create(user=bob.owner, name="bob's", scope="read")
    response = alice_client.post(f"/account/security/tokens/{issued.token.public_id}/revoke/")
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None


def test_contacts_are_added_validated_and_removed_only_by_their_customer(alice_client, alice, bob):
    from megalayer.accounts.models import Contact

    alice_client.post(
        "/account/profile/", {"form": "contact", "name": "Ops", "email": "ops@alice.example", "role": "technical"}
    )
    contact = Contact.objects.get(customer=alice)
    duplicate = alice_client.post(
        "/account/profile/", {"form": "contact", "name": "Ops", "email": "ops@alice.example", "role": "technical"}
    )
    assert "already a contact" in duplicate.content.decode()
    theirs = Contact.objects.create(customer=bob, name="B", email="b@example.com", role="billing")
    assert alice_client.post(f"/account/profile/contacts/{theirs.pk}/remove/").status_code == 404
    assert Contact.objects.filter(pk=theirs.pk).exists()
    alice_client.post(f"/account/profile/contacts/{contact.pk}/remove/")
    assert not Contact.objects.filter(customer=alice).exists()
