"""The abuse desk's pages: staff inbox, report, case with actions; the customer's cases and answer;
another customer's case is a 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from megalayer.abuse.models import AbuseCase, AbuseEvent, AbuseMessage
from megalayer.abuse.tests.test_intake import _mail, corpus, network  # noqa: F401 - the fixture
from megalayer.core import clock
from megalayer.network.models import NullRoute

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def test_staff_paste_a_report_confirm_a_finding_and_act(staff_client, network, django_capture_on_commit_callbacks):  # noqa: F811
    raw = _mail("Phishing page on 203.0.113.45 since 2026-11-25 10:00 UTC. Contact: victim@example.org")
    with clock.travel(NOW):
        response = staff_client.post("/backoffice/abuse/", {"raw": raw.decode()})
    event = AbuseEvent.objects.get()
    assert response["Location"] == f"/backoffice/abuse/reports/{event.report.public_id}/"
    assert (event.confirmed, event.case) == (False, None)
    inbox = staff_client.get("/backoffice/abuse/?triage=1").content.decode()
    assert "203.0.113.45" in inbox
    with clock.travel(NOW), django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/backoffice/abuse/reports/{event.report.public_id}/", {"event": event.pk})
    case = AbuseCase.objects.get()
    assert (case.service, case.category) == (network["alice"], "phishing")
    page = staff_client.get(f"/backoffice/abuse/cases/{case.public_id}/").content.decode()
    assert "Null-route this address" in page
    with clock.travel(NOW + dt.timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            f"/backoffice/abuse/cases/{case.public_id}/",
            {"action": "null_route", "address": "203.0.113.45", "note": "x"},
        )
    assert NullRoute.objects.get().case_reference == case.public_id


def test_the_customer_answers_in_the_case_and_others_see_nothing(alice, bob, network):  # noqa: F811
    raw = corpus("arf-spam.eml")
    from megalayer.abuse.actions import report_receive

    with clock.travel(NOW):
        report_receive(raw=raw, source="mail")
    case = AbuseCase.objects.get()
    owner = Client()
    owner.force_login(alice.owner)
    listing = owner.get("/account/abuse/").content.decode()
    assert case.public_id in listing
    page = owner.get(f"/account/abuse/{case.public_id}/").content.decode()
    assert "This is an email abuse report" in page
    assert "victim@mail-reports.example.net" not in page  # redacted
    owner.post(f"/account/abuse/{case.public_id}/", {"body": "Removed the compromised WordPress."})
    case.refresh_from_db()
    assert case.status == "answered"
    other = Client()
    other.force_login(bob.owner)
    assert other.get(f"/account/abuse/{case.public_id}/").status_code == 404
    assert other.post(f"/account/abuse/{case.public_id}/", {"body": "x"}).status_code == 404
    assert case.public_id not in other.get("/account/abuse/").content.decode()
    assert AbuseMessage.objects.count() == 1
    assert owner.get("/backoffice/abuse/").status_code == 302  # customers never reach the desk


def test_the_api_takes_reports_and_hides_other_customers_cases(alice, bob, staff, network):  # noqa: F811
    from megalayer.conftest import bearer

    raw = corpus("xarf-portscan.eml")
    staff_headers = bearer(staff, staff=True)
    with clock.travel(NOW):
        made = Client().post(
            "/api/v1/staff/abuse/reports", raw, content_type="application/octet-stream", **staff_headers
        )
        again = Client().post(
            "/api/v1/staff/abuse/reports", raw, content_type="application/octet-stream", **staff_headers
        )
    assert (made.status_code, again.status_code) == (201, 200)
    assert made.json()["events"][0]["address"] == "198.51.100.23"
    assert (
        Client()
        .post("/api/v1/staff/abuse/reports", raw, content_type="application/octet-stream", **bearer(bob.owner))
        .status_code
        == 403
    )
    case_id = made.json()["events"][0]["case"]
    assert [c["id"] for c in Client().get("/api/v1/abuse/cases", **bearer(bob.owner)).json()] == [case_id]
    assert Client().get("/api/v1/abuse/cases", **bearer(alice.owner)).json() == []
    import json

    refused = Client().post(
        f"/api/v1/abuse/cases/{case_id}/answers", json.dumps({"body": "not mine"}), content_type="application/json",
        **bearer(alice.owner),
    )  # fmt: skip
    assert refused.status_code == 404
    answered = Client().post(
        f"/api/v1/abuse/cases/{case_id}/answers", json.dumps({"body": "fixed"}), content_type="application/json",
        **bearer(bob.owner),
    )  # fmt: skip
    assert answered.json()["status"] == "answered"
