"""Accounts and communication, end to end (requirements.md, first section)."""

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

import megalayer.notices
from megalayer.accounts.models import Customer, User
from megalayer.billing.tests.conftest import fund
from megalayer.conformance.tests.steps import audit, customer_api, notices, portal, running_service, staff_api
from megalayer.conftest import PASSWORD, make_customer
from megalayer.core import clock
from megalayer.core.signed_hooks import sign
from megalayer.services.tests.conftest import with_billing
from megalayer.terms.models import TermsAcceptance
from megalayer.terms.policy import default_policy_data

pytestmark = pytest.mark.django_db
PASSPHRASE = "a long enough passphrase 42"
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


def _sign_up(terms_number: int, email: str, address: str) -> Client:
    visitor = Client(REMOTE_ADDR=address, HTTP_USER_AGENT="Firefox/140")
    form = {
        "email": email,
        "full_name": "Carol Chan",
        "password1": PASSPHRASE,
        "password2": PASSPHRASE,
        "terms_version": terms_number,
        "accept_terms": "on",
    }
    assert visitor.post("/auth/signup/", form).status_code == 302
    return visitor


def test_tos_accept_1(terms_v1):
    """Signing up records acceptance of the Terms in force: who, when, from which address, which version; a
    sign-up against a version no longer shown is refused."""
    stale = Client().post(
        "/auth/signup/",
        {
            "email": "late@example.net",
            "full_name": "Late",
            "password1": PASSPHRASE,
            "password2": PASSPHRASE,
            "terms_version": terms_v1.number + 1,
            "accept_terms": "on",
        },
    )
    assert "changed to version 1 while you were signing up" in stale.content.decode()
    _sign_up(terms_v1.number, "carol@example.net", "203.0.113.7")
    carol = Customer.objects.get(owner__email="carol@example.net")
    [accepted] = TermsAcceptance.objects.filter(user=carol.owner)
    assert (accepted.version.number, accepted.method, accepted.ip_address, accepted.user_agent) == (
        1,
        "signup",
        "203.0.113.7",
        "Firefox/140",
    )
    [version] = customer_api(carol).get("/terms").json()
    assert (version["version"], version["accepted_at"] is not None) == (1, True)


def test_tos_accept_2(alice, staff, vps, django_capture_on_commit_callbacks):
    """A new version has an effective time and an update date; customers with services get the summary by
    e-mail; every earlier version stays readable; continued use after the effective time is acceptance."""
    running_service(alice, vps, django_capture_on_commit_callbacks)
    effective = clock.now() + dt.timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        published = staff_api(staff).post(
            "/staff/terms",
            {
                "body": "Megalayer Terms of Service\\n\\nService Term\\n\\nServices run from payment, longer.\\n",
                "summary": "Service Term clarified.",
                "update_date": effective.date().isoformat(),
                "effective_at": effective.isoformat(),
                "policy": default_policy_data(),
            },
        )
    assert published.status_code == 201, published.content
    api = customer_api(alice)
    [told] = notices(api, "terms_changed")
    assert (told["requirement"], "Service Term clarified." in told["body_text"]) == ("TOS-ACCEPT-2", True)
    announced = Client().get("/terms/").content.decode()
    assert "Version 2 takes effect on" in announced
    assert Client().get("/terms/v/1/").status_code == 200
    with clock.travel(effective + dt.timedelta(hours=1)):
        assert api.get("/me").status_code == 200  # using the service after the effective time
        versions = {v["version"]: v["accepted_at"] for v in api.get("/terms").json()}
    assert versions[2] is not None
    [continued] = TermsAcceptance.objects.filter(user=alice.owner, version__number=2)
    assert continued.method == "continued_use"
    assert Client().get("/terms/v/1/").status_code == 200
    [event] = audit("terms.publish", "2")
    assert event.requirement == "TOS-ACCEPT-2"


def test_tos_email_2(alice, vps, django_capture_on_commit_callbacks, mailoutbox):
    """Activation, invoice and receipt notices are sent by e-mail, stored with their delivery status, and
    visible to the customer in the client area and the API."""
    running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    listing = api.get("/notices").json()["items"]
    kinds = {n["kind"]: n for n in listing}
    assert {"service_activated", "invoice_issued", "payment_receipt"} <= set(kinds)
    assert {n["status"] for n in listing} == {"sent"}
    assert kinds["service_activated"]["recipient"] == "alice@example.com"
    assert {m.subject for m in mailoutbox} >= {n["subject"] for n in listing}
    page = portal(alice).get("/account/notices/").content.decode()
    assert kinds["service_activated"]["subject"] in page
    assert customer_api(make_customer("mallory@example.com")).get(f"/notices/{listing[0]['id']}").status_code == 404


def test_tos_ticket_1(alice, vps, staff_client, django_capture_on_commit_callbacks):
    """The customer opens a ticket in a department through the API; staff reply, assign and set status and
    priority in the back office; the reply is e-mailed and the customer answers back."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    bad = api.post("/tickets", {"department": "marketing", "subject": "x", "body": "y"})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "department")
    with django_capture_on_commit_callbacks(execute=True):
        opened = api.post(
            "/tickets",
            {"department": "technical", "subject": "Disk slow", "body": "IO wait is high.", "service": service_id},
        )
    assert opened.status_code == 201, opened.content
    ticket_id = opened.json()["id"]
    url = f"/backoffice/tickets/{ticket_id}/"
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"action": "reply", "body": "We moved you to a faster array."})
        staff_client.post(url, {"action": "set", "status": "answered", "priority": "high"})
    seen = api.get(f"/tickets/{ticket_id}").json()
    assert (seen["status"], seen["priority"]) == ("answered", "high")
    assert [(m["from_staff"], m["body"]) for m in seen["messages"]] == [
        (False, "IO wait is high."),
        (True, "We moved you to a faster array."),
    ]
    [reply] = notices(api, "ticket_reply")
    assert (reply["requirement"], "We moved you to a faster array." in reply["body_text"]) == ("TOS-TICKET-1", True)
    with django_capture_on_commit_callbacks(execute=True):
        answered = api.post(f"/tickets/{ticket_id}/messages", {"body": "Thanks, much better."})
    assert answered.status_code == 201
    assert customer_api(make_customer("mallory@example.com")).get(f"/tickets/{ticket_id}").status_code == 404


def test_tos_sec_1(alice, settings):
    """Sign-in attempts are limited and lock out brute force, in the client area and the API; the customer sees
    their sessions and recent sign-ins; an old password prompts a change."""
    client = Client(REMOTE_ADDR="198.51.100.1")
    for _ in range(5):
        client.post("/auth/login/", {"login": "alice@example.com", "password": "wrong password"})
    locked = client.post("/auth/login/", {"login": "alice@example.com", "password": PASSWORD})
    assert "Too many failed login attempts. Try again later." in locked.content.decode()
    token = Client(REMOTE_ADDR="198.51.100.1").post(
        "/api/v1/auth/tokens", {"email": "alice@example.com", "password": PASSWORD}, content_type="application/json"
    )
    assert (token.status_code, token.json()["type"]) == (429, "/problems/rate-limited")
    User.objects.filter(pk=alice.owner_id).update(password_changed_at=clock.now() - dt.timedelta(days=181))
    cache.clear()  # the lockout's window has passed (allauth keeps it in the cache)
    signed_in = Client(REMOTE_ADDR="203.0.113.77")
    assert signed_in.post("/auth/login/", {"login": "alice@example.com", "password": PASSWORD}).status_code == 302
    security = signed_in.get("/account/security/", follow=True).content.decode()
    assert "more than 180 days old" in security
    assert reverse("usersessions_list") in security
    sessions = signed_in.get(reverse("usersessions_list")).content.decode()
    assert "203.0.113.77" in sessions
    # A slow hash: the tests trade it for speed (settings_test), so the check sets the production hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    owner = User.objects.get(pk=alice.owner_id)
    owner.set_password(PASSPHRASE)
    assert owner.password.startswith("argon2$argon2id$")


def test_tos_fraud_1(alice, staff, vps, django_capture_on_commit_callbacks):
    """An order scoring above the Terms' threshold waits for staff review instead of provisioning; staff
    approve it through the staff API and it is provisioned."""
    policy = default_policy_data()
    policy["orders"]["fraud_review_threshold"] = 40
    desk = staff_api(staff)
    published = desk.post(
        "/staff/terms",
        {
            "body": "Megalayer Terms of Service\\n\\nOrders are reviewed.\\n",
            "summary": "Fraud review threshold 40.",
            "update_date": clock.now().date().isoformat(),
            "effective_at": (clock.now() + dt.timedelta(minutes=1)).isoformat(),
            "policy": policy,
        },
    )
    assert published.status_code == 201
    User.objects.filter(pk=alice.owner_id).update(email="alice@mailinator.com")
    alice.refresh_from_db()
    with clock.travel(clock.now() + dt.timedelta(minutes=2)):
        with_billing(alice)
        fund(alice, "10.00")
        api = customer_api(alice)
        with django_capture_on_commit_callbacks(execute=True):
            placed = api.post("/orders", {"product": vps.code}).json()
        assert (placed["status"], placed["service"]) == ("in_review", None)
        with django_capture_on_commit_callbacks(execute=True):
            approved = desk.post(f"/staff/orders/{placed['id']}/approve", {"note": "called the customer"})
        assert approved.status_code == 200, approved.content
        [order] = api.get("/orders").json()
    assert order["status"] == "accepted"
    assert api.get(f"/services/{order['service']}").json()["status"] == "active"
    [decided] = audit("order.approve", placed["id"])
    assert (decided.requirement, decided.actor_label) == ("TOS-FRAUD-1", staff.email)
