"""Accounts and communication, end to end (requirements.md, first section)."""

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

import megalayer.notices
from megalayer.conformance.tests.steps import audit, customer_api, notices, portal, running_service, staff_api
from megalayer.conftest import PASSWORD
from megalayer.core import clock
from megalayer.core.signed_hooks import sign

pytestmark = pytest.mark.django_db
DSN = Path(megalayer.notices.__file__).parent / "tests" / "fixtures" / "bounce-postfix.eml"


def test_tos_refuse_1(alice, staff, vps, django_capture_on_commit_callbacks):
    """Staff deny a service's renewal through the staff API: the customer is told the end date and the clause,
    the service page and the API say so, renewing is refused, and the service ends at its expiry."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    customer, desk = customer_api(alice), staff_api(staff)
    refused = desk.post(f"/staff/services/{service_id}/deny-renewal", {"note": ""})
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "note")
    assert customer.get(f"/services/{service_id}").json()["renewal_denied"] is False
    as_customer = customer.post(f"/staff/services/{service_id}/deny-renewal", {"note": "no"})
    assert as_customer.status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        denied = desk.post(f"/staff/services/{service_id}/deny-renewal", {"note": "chargeback history"})
    assert denied.status_code == 200
    seen = customer.get(f"/services/{service_id}").json()
    assert (seen["renewal_denied"], seen["next_step"], seen["next_step_at"]) == (
        True,
        "Ends (renewal denied)",
        seen["paid_until"],
    )
    twice = desk.post(f"/staff/services/{service_id}/deny-renewal", {"note": "again"})
    assert (twice.status_code, twice.json()["type"]) == (409, "/problems/renewal-already-denied")
    renew = customer.post(f"/services/{service_id}/renew")
    assert (renew.status_code, renew.json()["type"]) == (409, "/problems/not-renewable")
    auto = customer.patch(f"/services/{service_id}", {"auto_renew": True})
    assert (auto.status_code, auto.json()["type"]) == (409, "/problems/not-renewable")

    [notice] = notices(customer, "renewal_denied")
    assert notice["requirement"] == "TOS-REFUSE-1"
    assert notice["subject"].startswith(f"Renewal denied: {service_id} ends on ")
    assert "TOS-REFUSE-1" in notice["body_text"]
    assert "chargeback" not in notice["body_text"]  # the staff note stays internal
    page = portal(alice).get(f"/account/services/{service_id}/").content.decode()
    assert 'data-testid="renewal-denied"' in page
    assert "Renew now" not in page
    [event] = audit("service.renewal_denied", service_id)
    assert (event.requirement, event.actor_label, event.data["note"]) == (
        "TOS-REFUSE-1",
        staff.email,
        "chargeback history",
    )


def test_tos_email_1(alice, staff_client, vps, settings, django_capture_on_commit_callbacks):
    """A notice bounces (a Postfix DSN through the inbound-mail hook): the address is flagged, the notice shows
    as not delivered, the API's /me asks for a fix, the next sign-in lands on the e-mail page, the banner
    asks on every page, and staff find the customer among the unreachable."""
    settings.MEGALAYER_INBOUND_MAIL_SECRET = "inbound-secret"
    running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    assert api.get("/me").json()["attention"] == []
    [activated] = notices(api, "service_activated")
    dsn = DSN.read_bytes().replace(b"NOTICE_ID", activated["id"].encode())
    hooked = Client().post(
        "/api/v1/hooks/inbound-mail",
        dsn,
        content_type="message/rfc822",
        HTTP_X_MEGALAYER_SIGNATURE=sign(dsn, "inbound-secret"),
    )
    assert hooked.json() == {"outcome": "bounced: 1"}

    me = api.get("/me").json()
    assert me["email_bounced_at"] is not None
    assert [(a["code"], a["url"]) for a in me["attention"]] == [("email-bounced", "/auth/email/")]
    assert api.get(f"/notices/{activated['id']}").json()["status"] == "failed"
    signed_in = Client()
    login = signed_in.post("/auth/login/", {"login": "alice@example.com", "password": PASSWORD})
    assert (login.status_code, login["Location"]) == (302, "/auth/email/")
    page = signed_in.get("/account/services/").content.decode()
    assert "Mail to alice@example.com bounced on" in page
    assert "unreachable" in staff_client.get("/backoffice/customers/?unreachable=1").content.decode()
    [flagged] = audit("email.bounced", alice.owner.email)
    assert flagged.requirement == "TOS-EMAIL-1"


def test_tos_renew_1(alice, vps, django_capture_on_commit_callbacks):
    """The customer switches auto-renew through the API; the switch is audited, and the renewal invoice issued
    before expiry is paid from the balance when auto-renew is on."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks, funds="20.00")
    api = customer_api(alice)
    assert api.get(f"/services/{service_id}").json()["auto_renew"] is True  # the default
    off = api.patch(f"/services/{service_id}", {"auto_renew": False})
    assert (off.status_code, off.json()["auto_renew"]) == (200, False)
    assert api.patch(f"/services/{service_id}", {"auto_renew": "maybe"}).status_code == 422
    on = api.patch(f"/services/{service_id}", {"auto_renew": True})
    assert (on.status_code, on.json()["auto_renew"]) == (200, True)
    assert [e.requirement for e in audit("service.auto_renew_off", service_id)] == ["TOS-RENEW-1"]
    assert [e.requirement for e in audit("service.auto_renew_on", service_id)] == ["TOS-RENEW-1"]
    paid_until = dt.datetime.fromisoformat(api.get(f"/services/{service_id}").json()["paid_until"])
    with clock.travel(paid_until - dt.timedelta(days=7, hours=-1)), django_capture_on_commit_callbacks(execute=True):
        call_command("automation", "run", stdout=io.StringIO())
        renewed = api.get(f"/services/{service_id}").json()
        balance = api.get("/balance").json()
    assert dt.datetime.fromisoformat(renewed["paid_until"]) > paid_until
    assert balance["balances"] == [{"amount": "0.00", "currency": "USD"}]
    assert [i["status"] for i in api.get("/invoices").json()["items"]] == ["paid", "paid"]
    assert [n["requirement"] for n in notices(api, "payment_receipt")][:1] == ["TOS-EMAIL-2"]
