"""NUL characters never reach the database (PostgreSQL refuses them): 422 in the API, 400 on pages, and
nothing written. Found by schemathesis on /api/v1/catalog/products?location=%00."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from megalayer.conftest import bearer
from megalayer.support.models import Ticket

pytestmark = pytest.mark.django_db


def test_the_api_answers_422_naming_the_field(alice, vps):
    headers = bearer(alice.owner)
    response = Client().get("/api/v1/catalog/products?location=%00", **headers)
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "location", "message": "contains a NUL character"}]
    body = json.dumps({"department": "technical", "subject": "x\u0000", "body": "y"})
    created = Client().post("/api/v1/tickets", body, content_type="application/json", **headers)
    assert (created.status_code, created.json()["errors"][0]["field"]) == (422, "subject")  # the field named
    assert not Ticket.objects.exists()


def test_pages_answer_400(staff_client, alice_client):
    assert staff_client.get("/backoffice/customers/?q=%00").status_code == 400
    refused = alice_client.post("/account/tickets/new/", {"department": "technical", "subject": "a\x00", "body": "b"})
    assert refused.status_code == 400
    assert not Ticket.objects.exists()
    assert staff_client.get("/backoffice/customers/?q=alice").status_code == 200
