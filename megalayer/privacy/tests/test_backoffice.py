"""Staff and account deletions: seeing what stops one, scheduling for a customer, cancelling."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest

from megalayer.abuse.actions.holds import legal_hold_place
from megalayer.audit.models import AuditEvent
from megalayer.core import clock
from megalayer.privacy.actions import erasures_run_due
from megalayer.privacy.models import ErasureRequest

pytestmark = pytest.mark.django_db


def test_staff_schedule_see_the_hold_and_cancel(rich_alice, staff, staff_client, django_capture_on_commit_callbacks):
    url = f"/backoffice/customers/{rich_alice.public_id}/privacy/"
    assert staff_client.get(url).status_code == 404  # POST only
    refused = staff_client.post(url, {"action": "schedule", "note": " "}, follow=True)
    assert "Say how the customer asked" in refused.content.decode()
    assert ErasureRequest.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"action": "schedule", "note": "letter of 2 March, ticket tkt_x"})
    request = ErasureRequest.objects.get(customer=rich_alice)
    assert (request.requested_by, request.note) == (
        "staff@megalayer.test for the customer",
        "letter of 2 March, ticket tkt_x",
    )
    hold = legal_hold_place(staff=staff, customer=rich_alice, reason="inquiry 12")
    with clock.travel(request.erase_after + dt.timedelta(minutes=1)), django_capture_on_commit_callbacks(execute=True):
        assert erasures_run_due()["held"] == 1
    page = staff_client.get(f"/backoffice/customers/{rich_alice.public_id}/").content.decode()
    assert f"Legal hold <code>{hold.public_id}</code> keeps this customer" in page
    assert f"held by <code>{hold.public_id}</code>" in page
    listing = staff_client.get("/backoffice/privacy/erasures/?status=scheduled").content.decode()
    assert request.public_id in listing
    assert f"legal hold <code>{hold.public_id}</code>" in listing

    staff_client.post(url, {"action": "cancel", "note": "the customer changed their mind"})
    request.refresh_from_db()
    rich_alice.refresh_from_db()
    assert (request.status, rich_alice.status) == ("cancelled", "active")


def test_staff_download_a_customers_data_and_it_is_audited(rich_alice, staff_client):
    response = staff_client.post(f"/backoffice/customers/{rich_alice.public_id}/privacy/", {"action": "export"})
    assert response.status_code == 200
    account = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("account.json"))
    assert account["customer"] == rich_alice.public_id
    event = AuditEvent.objects.get(action="privacy.exported")
    assert (event.actor_kind, event.actor_label) == ("staff", "staff@megalayer.test")


def test_customers_cannot_reach_the_staff_pages(rich_alice, alice_client):
    for url in (f"/backoffice/customers/{rich_alice.public_id}/privacy/", "/backoffice/privacy/erasures/"):
        response = alice_client.post(url, {"action": "export"})
        assert response.status_code == 302
        assert "/login" in response["Location"]
    assert not AuditEvent.objects.filter(action="privacy.exported").exists()
