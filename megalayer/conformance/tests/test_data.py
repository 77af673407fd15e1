"""Data, end to end (requirements.md, "Data")."""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.db import connection, transaction
from django.test import Client

from megalayer.accounts.models import Customer
from megalayer.audit.models import AuditEvent
from megalayer.conformance.tests.steps import audit, customer_api, notices, running_service, staff_api
from megalayer.conftest import PASSWORD, bearer, make_staff, open_case, sign_in_staff
from megalayer.core import clock
from megalayer.privacy.models import PrivacyPolicyAcceptance
from megalayer.services.models import Service

pytestmark = pytest.mark.django_db
PASSPHRASE = "a long enough passphrase 42"


def test_tos_privacy_1(alice, terms_v1, vps, django_capture_on_commit_callbacks):
    """The Privacy Policy the Terms refer to is published and versioned like them (staff API and back office),
    accepted at sign-up and through the API, and its change is e-mailed; a customer exports their data and
    deletes their account through the API, asked for the password again."""
    assert Client().get("/privacy/").status_code == 200  # a page, even before anything is published
    running_service(alice, vps, django_capture_on_commit_callbacks)
    admin = make_staff("legal-admin@megalayer.test", "admin")
    start = clock.now()
    first = staff_api(admin).post(
        "/staff/privacy-policy",
        {
            "body": "We keep your account, billing and service data.\n\nYou can export and delete it.",
            "summary": "First version.",
            "update_date": start.date().isoformat(),
            "effective_at": (start + dt.timedelta(minutes=1)).isoformat(),
        },
    )
    assert (first.status_code, first.json()["version"]) == (201, 1)
    past = staff_api(admin).post(
        "/staff/privacy-policy",
        {"body": "x", "summary": "x", "update_date": "2020-01-01", "effective_at": "2020-01-01T00:00:00Z"},
    )
    assert (past.status_code, past.json()["errors"][0]["field"]) == (422, "effective_at")

    with clock.travel(start + dt.timedelta(minutes=2)):
        page = Client().get("/privacy/").content.decode()
        assert "We keep your account, billing and service data." in page
        visitor = Client(REMOTE_ADDR="203.0.113.9")
        signup = {
            "email": "carol@example.net",
            "full_name": "Carol",
            "password1": PASSPHRASE,
            "password2": PASSPHRASE,
            "terms_version": terms_v1.number,
            "accept_terms": "on",
        }
        assert visitor.post("/auth/signup/", signup).status_code == 302
        carol = Customer.objects.get(owner__email="carol@example.net")
        [consent] = PrivacyPolicyAcceptance.objects.filter(user=carol.owner)
        assert (consent.version.number, consent.method, consent.ip_address) == (1, "signup", "203.0.113.9")

        staff_page = sign_in_staff(Client(), admin)
        with django_capture_on_commit_callbacks(execute=True):
            published = staff_page.post(
                "/backoffice/privacy/policy/",
                {
                    "body": "We keep your account, billing and service data.\n\nWe also keep sign-in history.",
                    "summary": "Sign-in history is kept.",
                    "update_date": clock.now().date().isoformat(),
                    "effective_at": (clock.now() + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
                },
            )
        assert published.status_code == 302
    api = customer_api(alice)
    [changed] = notices(api, "privacy_policy_changed")
    assert (changed["requirement"], changed["subject"].startswith("Our Privacy Policy changes on")) == (
        "TOS-PRIVACY-1",
        True,
    )
    assert "Sign-in history is kept." in changed["body_text"]
    [event] = audit("privacy.policy_published", "2")
    assert (event.requirement, event.actor_label) == ("TOS-PRIVACY-1", admin.email)

    with clock.travel(start + dt.timedelta(minutes=10)):
        current = api.get("/privacy/policy").json()
        assert (current["version"], current["accepted_at"]) == (2, None)
        accepted = api.post("/privacy/policy/2/accept")
        assert (accepted.status_code, accepted.json()["accepted_at"] is not None) == (201, True)
        assert api.post("/privacy/policy/1/accept").json()["type"] == "/problems/policy-superseded"
        assert Client().get("/privacy/v/1/").status_code == 200  # every version stays readable

        export = api.get("/privacy/export")
        assert export.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(export.content))
        manifest = json.loads(archive.read("manifest.json"))
        assert "files" in manifest
        [exported] = audit("privacy.exported", alice.public_id)
        assert exported.requirement == "TOS-PRIVACY-1"

        wrong = api.post("/privacy/deletion", {"password": "not it", "confirm": True, "acknowledge_balance": True})
        assert (wrong.status_code, wrong.json()["errors"][0]["field"]) == (422, "password")
        alice.refresh_from_db()
        assert alice.status == "active"
        asked = {"password": PASSWORD, "confirm": True, "acknowledge_balance": True}
        blocked = api.post("/privacy/deletion", asked)
        assert (blocked.status_code, blocked.json()["type"]) == (409, "/problems/erasure-blocked")
        [service] = api.get("/services").json()["items"]
        with django_capture_on_commit_callbacks(execute=True):
            ended = staff_api(make_staff("ops@megalayer.test", "abuse")).post(
                f"/staff/services/{service['id']}/terminate",
                {"reason": "staff", "requirement": "TOS-TERM-1", "note": "the customer asked by ticket"},
            )
        assert ended.status_code == 200
        assert api.get(f"/services/{service['id']}").json()["status"] == "terminated"
        with django_capture_on_commit_callbacks(execute=True):
            gone = api.post("/privacy/deletion", asked)
        assert gone.status_code == 202, gone.content
        alice.refresh_from_db()
        assert alice.status == "closed"
        assert Client().get("/api/v1/me", **bearer(alice.owner)).status_code == 401
    [requested] = audit("privacy.erasure_requested", alice.public_id)
    assert requested.requirement == "TOS-PRIVACY-1"


def test_tos_audit_1(alice, vps, django_capture_on_commit_callbacks):
    """Every enforcement action is in the append-only audit log with actor, time, target, clause and terms
    version; the chain verifies, and an edit behind the application's back is named."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    desk = staff_api(make_staff("desk@megalayer.test", "abuse"))
    auditor = staff_api(make_staff("auditor@megalayer.test", "legal"))
    case = open_case(Service.objects.get(public_id=service_id))
    with django_capture_on_commit_callbacks(execute=True):
        suspended = desk.post(
            f"/staff/services/{service_id}/suspend", {"reason": "abuse", "note": "spam run", "case": case.public_id}
        )
    assert suspended.status_code == 200
    [event] = auditor.get(f"/staff/audit?target_id={service_id}&action=service.suspended").json()["items"]
    assert (event["actor"], event["requirement"], event["terms_version"], event["target_type"]) == (
        "desk@megalayer.test",
        "TOS-ABUSE-2",
        1,
        "service",
    )
    assert desk.get("/staff/audit").status_code == 403  # the abuse desk does not read the audit log
    verified = auditor.get("/staff/audit/verify").json()
    assert (verified["ok"], verified["checked"] > 3, verified["broken_event_id"]) == (True, True, None)
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017, PT011 (the database refuses any edit)
        AuditEvent.objects.filter(id=event["id"]).update(requirement="TOS-NET-1")
    with transaction.atomic(), connection.cursor() as cursor:  # an attacker with DDL rights
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        else:
            cursor.execute("DROP TRIGGER audit_auditevent_append_only_update")
        cursor.execute("UPDATE audit_auditevent SET requirement = %s WHERE id = %s", ["TOS-NET-1", event["id"]])
        broken = auditor.get("/staff/audit/verify").json()
        assert (broken["ok"], broken["broken_event_id"]) == (False, event["id"])
        transaction.set_rollback(True)
