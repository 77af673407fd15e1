"""The client area's account deletion: password again, blockers shown, signed out at once."""

from __future__ import annotations

import pytest
from django.test import Client

from megalayer.conftest import PASSWORD
from megalayer.privacy.models import ErasureRequest
from megalayer.privacy.tests.conftest import rich_customer

pytestmark = pytest.mark.django_db


def test_a_wrong_password_deletes_nothing(rich_alice):
    client = Client()
    client.force_login(rich_alice.owner)
    response = client.post("/account/privacy/", {"password": "not-it", "confirm": "on"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"password": ["That is not your password."]}
    unconfirmed = client.post("/account/privacy/", {"password": PASSWORD})
    assert list(unconfirmed.context["form"].errors) == ["confirm"]
    rich_alice.refresh_from_db()
    assert (rich_alice.status, ErasureRequest.objects.count()) == ("active", 0)
    assert client.get("/account/").status_code == 200  # still signed in


def test_running_services_are_listed_and_no_form_is_offered(alice, vps, django_capture_on_commit_callbacks):
    service = rich_customer(alice, vps, django_capture_on_commit_callbacks, terminate=False)
    client = Client()
    client.force_login(alice.owner)
    page = client.get("/account/privacy/").content.decode()
    assert f"Service {service.public_id} (VPS Premium 2G) is active." in page
    assert "Delete my account</button>" not in page
    refused = client.post("/account/privacy/", {"password": PASSWORD, "confirm": "on"})
    assert "End these first" in refused.content.decode()
    assert ErasureRequest.objects.count() == 0


def test_deleting_signs_out_everywhere(rich_alice, django_capture_on_commit_callbacks):
    client, other_device = Client(), Client()
    client.force_login(rich_alice.owner)
    other_device.force_login(rich_alice.owner)
    assert other_device.get("/account/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/account/privacy/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    assert "Your account is closed" in response.content.decode()
    request = ErasureRequest.objects.get(customer=rich_alice)
    assert request.requested_by == "alice@example.com"
    for browser in (client, other_device):
        assert browser.get("/account/").status_code == 302  # to the sign-in page
    signed_in = Client().post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
    assert "_auth_user_id" not in signed_in.client.session
