"""Abuse, complaints and legal orders, end to end (requirements.md, "Abuse, complaints and legal orders")."""

import datetime as dt
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

import megalayer.terms
from megalayer.abuse.actions import abuse_deadlines_run
from megalayer.accounts.models import User
from megalayer.conformance.tests.steps import audit, customer_api, notices, portal, running_service, staff_api
from megalayer.conftest import PASSWORD, bearer, make_customer, make_staff, open_case, sign_in_staff
from megalayer.core import clock
from megalayer.core.signed_hooks import sign
from megalayer.notices.models import Notice
from megalayer.services.models import Service
from megalayer.terms.choices import AbuseCategory
from megalayer.terms.policy import default_policy_data

pytestmark = pytest.mark.django_db
MAIL_SECRET = "inbound-secret"
TERMS_TEXT = Path(megalayer.terms.__file__).parent / "fixtures" / "terms-of-service-v1.txt"
ATTACK_SECRET = "attack-secret"


@pytest.fixture(autouse=True)
def _hook_secrets(settings):
    settings.MEGALAYER_INBOUND_MAIL_SECRET = MAIL_SECRET
    settings.MEGALAYER_ATTACK_HOOK_SECRET = ATTACK_SECRET


def _arf_complaint(address: str, *, contact: str = "jane@victim.example") -> bytes:
    """A DKIM-verified ARF spam report (RFC 5965) as the provider's mail server hands it to the hook."""
    arrival = clock.now().strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        "Authentication-Results: mx.megalayer.test; dkim=pass header.d=complainer.example\r\n"
        "From: Reports <reports@complainer.example>\r\nTo: abuse@megalayer.example\r\n"
        f"Subject: Abuse report for {address}\r\nDate: {arrival}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@complainer.example>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary="b1"\r\n\r\n'
        f"--b1\r\nContent-Type: text/plain\r\n\r\nSpam from your customer. Write to {contact}.\r\n"
        "--b1\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nVersion: 1\r\nArrival-Date: {arrival}\r\nSource-IP: {address}\r\n\r\n"
        "--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: buy now\r\n\r\ncheap pills\r\n--b1--\r\n"
    ).encode()


def _mail_hook(raw: bytes) -> Any:
    response = Client().post(
        "/api/v1/hooks/inbound-mail",
        raw,
        content_type="message/rfc822",
        HTTP_X_MEGALAYER_SIGNATURE=sign(raw, MAIL_SECRET),
        HTTP_X_MEGALAYER_ENVELOPE_TO="abuse@megalayer.example",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _trust_complainer(staff_client) -> None:
    added = staff_client.post(
        "/backoffice/abuse/reporters/", {"domain": "complainer.example", "name": "Complainer", "note": "feedback loop"}
    )
    assert added.status_code == 302


def _address_of(api: Any, service_id: str) -> Any:
    [address] = [a["address"] for a in api.get(f"/services/{service_id}/ips").json() if a["family"] == 4]
    return address


def test_tos_abuse_1(alice, vps, staff, staff_client, django_capture_on_commit_callbacks):
    """A complaint by e-mail (ARF) is matched to the service holding the address, opened as a case, sent to the
    customer with a deadline, visible with its thread in the client area and the API, and escalated when the
    deadline passes. The Terms page gives the address complaints go to."""
    published = staff_api(staff).post(
        "/staff/terms",
        {
            "body": TERMS_TEXT.read_text(encoding="utf-8"),
            "summary": "The provider's full text.",
            "update_date": clock.now().date().isoformat(),
            "effective_at": (clock.now() + dt.timedelta(minutes=1)).isoformat(),
            "policy": default_policy_data(),
        },
    )
    assert published.status_code == 201, published.content
    with clock.travel(clock.now() + dt.timedelta(minutes=2)):
        terms = Client().get("/terms/").content.decode()
    assert 'may be sent via email to <a href="mailto:abuse@megalayer.example" data-testid="abuse-address">' in terms

    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    address = _address_of(api, service_id)
    _trust_complainer(staff_client)
    later = clock.now() + dt.timedelta(minutes=10)  # the spam run comes after the address was assigned
    with clock.travel(later), django_capture_on_commit_callbacks(execute=True):
        outcome = _mail_hook(_arf_complaint(address))
    assert outcome["outcome"].startswith("abuse report abr_")

    [case] = api.get("/abuse/cases").json()
    assert (case["service"], case["category"], case["status"]) == (service_id, "spam", "open")
    opened = dt.datetime.fromisoformat(case["opened_at"])
    assert dt.datetime.fromisoformat(case["deadline_at"]) - opened == dt.timedelta(hours=24)
    detail = api.get(f"/abuse/cases/{case['id']}").json()
    assert (detail["addresses"], detail["escalated_at"], detail["messages"]) == ([address], None, [])
    assert "Spam from your customer" in detail["complaints"][0]
    assert "jane@victim.example" not in detail["complaints"][0]
    [told] = notices(api, "abuse_case")
    assert told["requirement"] == "TOS-ABUSE-1"
    assert case["id"] in told["subject"] or case["id"] in told["body_text"]
    assert portal(alice).get(f"/account/abuse/{case['id']}/").status_code == 200
    [received] = audit("abuse.report_received", outcome["outcome"].split()[-1])
    [opened_event] = audit("abuse.case_opened", case["id"])
    assert (received.requirement, opened_event.requirement) == ("TOS-ABUSE-1", "TOS-ABUSE-1")

    with clock.travel(opened + dt.timedelta(hours=25)), django_capture_on_commit_callbacks(execute=True):
        abuse_deadlines_run()
        escalated = api.get(f"/abuse/cases/{case['id']}").json()
    assert escalated["status"] == "escalated"
    assert escalated["escalated_at"] is not None
    [deadline] = notices(api, "abuse_deadline")
    assert deadline["requirement"] == "TOS-ABUSE-2"
    [passed] = audit("abuse.deadline_passed", case["id"])
    assert (passed.requirement, passed.data["null_routed"]) == ("TOS-ABUSE-2", [address])

    answered = api.post(f"/abuse/cases/{case['id']}/answers", {"body": "The mailer was compromised; removed."})
    assert answered.status_code == 201
    thread = api.get(f"/abuse/cases/{case['id']}").json()["messages"]
    assert [(m["from_staff"], m["body"]) for m in thread] == [(False, "The mailer was compromised; removed.")]
    other = customer_api(make_other_customer())
    assert other.get(f"/abuse/cases/{case['id']}").status_code == 404


def make_other_customer():
    return make_customer("mallory@example.com")


def test_tos_abuse_2(alice, vps, staff, django_capture_on_commit_callbacks):
    """Staff suspend a service for abuse through the staff API: the clause must be one of the Terms in force and
    the case named must be the customer's; the customer is told, the case records the measure."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    desk, api = staff_api(staff), customer_api(alice)
    url = f"/staff/services/{service_id}/suspend"
    no_case = desk.post(url, {"reason": "abuse", "note": "phishing kit"})
    bad_clause = desk.post(url, {"reason": "abuse", "note": "phishing kit", "requirement": "TOS-PHISH-1"})
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in (no_case, bad_clause)] == [
        (422, "case"),
        (422, "requirement"),
    ]
    assert api.get(f"/services/{service_id}").json()["status"] == "active"
    assert notices(api, "service_suspended") == []

    case = open_case(Service.objects.get(public_id=service_id), "phishing")
    with django_capture_on_commit_callbacks(execute=True):
        done = desk.post(url, {"reason": "abuse", "note": "phishing kit", "case": case.public_id})
    assert (done.status_code, done.json()["status"], done.json()["reason"]) == (200, "suspended", "abuse")
    seen = api.get(f"/services/{service_id}").json()
    assert seen["next_step"].startswith("Suspended for abuse: answer the abuse case")
    assert seen["next_step_clause"] == "Disclaimers 2"
    [told] = notices(api, "service_suspended")
    assert told["subject"] == f"Suspended: {service_id} (Abuse)"
    assert "Answer the abuse case" in told["body_text"]
    assert "data will be deleted" not in told["subject"]
    [linked] = audit("abuse.service_suspend", case.public_id)
    assert (linked.requirement, linked.data["service"]) == ("TOS-ABUSE-2", service_id)
    [suspended] = audit("service.suspended", service_id)
    assert suspended.data["note"] == f"phishing kit (case {case.public_id})"

    address = _address_of(api, service_id)
    routed = desk.post(
        "/staff/ip/null-routes",
        {"address": address, "reason": "phishing", "requirement": "TOS-ABUSE-2", "case_reference": case.public_id},
    )
    assert routed.status_code == 201
    [route] = audit("ip.null_route", address)
    assert (route.requirement, route.data["case"], route.data["customer"]) == (
        "TOS-ABUSE-2",
        case.public_id,
        alice.public_id,
    )


def test_tos_attack_1(alice, vps, staff, django_capture_on_commit_callbacks):
    """An attack alarm for a customer's address tells the customer at once, once per attack, and the customer
    lists the service's alarms through the API."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    api = customer_api(alice)
    address = _address_of(api, service_id)
    body = json.dumps(
        {"event_id": uuid.uuid4().hex, "ip": address, "direction": "incoming", "action": "ban", "pps": 250000}
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            Client().post(
                "/api/v1/hooks/attack-alarms",
                body,
                content_type="application/json",
                HTTP_X_MEGALAYER_SIGNATURE=sign(body, ATTACK_SECRET),
            )
    [alarm] = api.get(f"/services/{service_id}/attack-alarms").json()
    assert (alarm["address"], alarm["direction"], alarm["peak_pps"], alarm["ended_at"], alarm["null_routed"]) == (
        address,
        "incoming",
        250000,
        None,
        False,
    )
    [told] = notices(api, "attack_alarm")
    assert (told["subject"], told["requirement"]) == (f"Attack on your address {address}", "TOS-ATTACK-1")
    assert customer_api(make_other_customer()).get(f"/services/{service_id}/attack-alarms").status_code == 404

    # The Terms say outgoing attacks are null-routed at once: an attack from the address takes it off the
    # network until the detector's unban, and the customer sees both in the API.
    policy = default_policy_data()
    policy["attack"]["auto_null_route_outgoing"] = True
    published = staff_api(staff).post(
        "/staff/terms",
        {
            "body": "Megalayer Terms of Service\n\nOutgoing attacks are null-routed.\n",
            "summary": "Outgoing attacks are null-routed at once.",
            "update_date": clock.now().date().isoformat(),
            "effective_at": (clock.now() + dt.timedelta(minutes=1)).isoformat(),
            "policy": policy,
        },
    )
    assert published.status_code == 201
    with clock.travel(clock.now() + dt.timedelta(minutes=2)), django_capture_on_commit_callbacks(execute=True):
        for action in ("ban", "unban"):
            body = json.dumps(
                {"event_id": uuid.uuid4().hex, "ip": address, "direction": "outgoing", "action": action, "pps": 90000}
            ).encode()
            Client().post(
                "/api/v1/hooks/attack-alarms",
                body,
                content_type="application/json",
                HTTP_X_MEGALAYER_SIGNATURE=sign(body, ATTACK_SECRET),
            )
            if action == "ban":
                [route] = staff_api(make_staff("noc@megalayer.test", "abuse")).get("/staff/ip/null-routes").json()
                assert (route["address"], route["requirement"], route["ended_at"]) == (address, "TOS-ATTACK-1", None)
    outgoing = api.get(f"/services/{service_id}/attack-alarms").json()[0]
    assert (outgoing["direction"], outgoing["null_routed"], outgoing["ended_at"] is not None) == (
        "outgoing",
        True,
        True,
    )


def test_tos_legal_1(alice, vps, django_capture_on_commit_callbacks):
    """A court order to suspend an address is recorded and carried out through the staff API: the address is
    null-routed by the abuse desk's own action, the order records the measure, doing it twice is refused."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    address = _address_of(customer_api(alice), service_id)
    legal = staff_api(make_staff("counsel@megalayer.test", "legal"))
    plain = staff_api(make_staff("desk@megalayer.test", "abuse"))
    recorded = legal.post(
        "/staff/legal-orders",
        {
            "kind": "court",
            "issuer": "District Court",
            "reference": "2026-CV-118",
            "orders": ["suspend_ip", "preserve"],
            "service": service_id,
            "address": address,
        },
    )
    assert recorded.status_code == 201, recorded.content
    order_id = recorded.json()["id"]
    assert recorded.json()["measures"] == {}
    assert plain.post(f"/staff/legal-orders/{order_id}/execute", {"action": "suspend_ip"}).status_code in (403, 404)
    not_ordered = legal.post(f"/staff/legal-orders/{order_id}/execute", {"action": "shut_down"})
    assert (not_ordered.status_code, not_ordered.json()["errors"][0]["field"]) == (422, "action")

    with django_capture_on_commit_callbacks(execute=True):
        done = legal.post(f"/staff/legal-orders/{order_id}/execute", {"action": "suspend_ip"})
    assert done.status_code == 200
    measure = done.json()["measures"]["suspend_ip"]
    assert (measure["measure"], measure["by"]) == (f"null route {address}", "counsel@megalayer.test")
    [route] = plain.get("/staff/ip/null-routes").json()
    assert (route["address"], route["requirement"], route["case_reference"]) == (address, "TOS-LEGAL-1", order_id)
    twice = legal.post(f"/staff/legal-orders/{order_id}/execute", {"action": "suspend_ip"})
    assert (twice.status_code, twice.json()["type"]) == (409, "/problems/already-carried-out")
    [event] = audit("legal.suspend_ip", order_id)
    assert (event.requirement, event.data["measure"]) == ("TOS-LEGAL-1", f"null route {address}")
    page = sign_in_staff(Client(), legal_user()).get(f"/backoffice/legal/orders/{order_id}/").content.decode()
    assert f"null route {address}" in page


def legal_user():
    return User.objects.get(email="counsel@megalayer.test")


def test_tos_violation_1(alice, bob, vps, django_capture_on_commit_callbacks):
    """Staff suspend, then close, a whole account for a violation through the staff API: each names the clause
    and the customer's case; a legal hold stops the closing; nothing is refunded; sign-in ends."""
    first = running_service(alice, vps, django_capture_on_commit_callbacks, funds="30.00")
    api = customer_api(alice)
    with django_capture_on_commit_callbacks(execute=True):
        second = api.post("/orders", {"product": vps.code}).json()["service"]
    desk = staff_api(make_staff("desk@megalayer.test", "abuse", "legal"))
    bobs_case = open_case(Service.objects.get(public_id=running_service(bob, vps, django_capture_on_commit_callbacks)))
    case = open_case(Service.objects.get(public_id=first), "phishing")
    suspend = f"/staff/customers/{alice.public_id}/suspend"
    refused = [
        desk.post(suspend, {"note": "phishing kits"}),
        desk.post(suspend, {"note": "phishing kits", "case": bobs_case.public_id}),
        desk.post(suspend, {"note": "phishing kits", "case": case.public_id, "requirement": "TOS-NOPE-1"}),
    ]
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in refused] == [
        (422, "case"),
        (422, "case"),
        (422, "requirement"),
    ]
    assert {s["status"] for s in api.get("/services").json()["items"]} == {"active"}

    with django_capture_on_commit_callbacks(execute=True):
        suspended = desk.post(suspend, {"note": "phishing kits", "case": case.public_id})
    assert (suspended.status_code, suspended.json()["status"]) == (200, "suspended")
    assert suspended.json()["services"] == {first: "suspended", second: "suspended"}
    no_order = api.post("/orders", {"product": vps.code})
    assert (no_order.status_code, no_order.json()["type"]) == (409, "/problems/account-not-active")
    [event] = audit("account.suspended", alice.public_id)
    assert (event.requirement, event.data["case"]) == ("TOS-VIOLATION-1", case.public_id)

    hold = desk.post("/staff/legal-holds", {"reason": "evidence for the police", "service": first})
    assert hold.status_code == 201, hold.content
    close = f"/staff/customers/{alice.public_id}/close"
    held = desk.post(close, {"note": "phishing kits", "case": case.public_id})
    assert (held.status_code, held.json()["type"]) == (409, "/problems/legal-hold")
    assert {s["status"] for s in api.get("/services").json()["items"]} == {"suspended"}
    released = desk.post(f"/staff/legal-holds/{hold.json()['id']}/release", {"note": "handed over"})
    assert released.status_code in (200, 202)
    if released.status_code == 202:  # four eyes: a second member approves
        approver = staff_api(make_staff("second@megalayer.test", "legal"))
        assert approver.post(f"/staff/approvals/{released.json()['id']}/approve", {}).status_code == 200
    balance_before = api.get("/balance").json()["balances"]

    with django_capture_on_commit_callbacks(execute=True):
        closed = desk.post(close, {"note": "phishing kits", "case": case.public_id})
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")
    assert set(closed.json()["services"].values()) <= {"terminating", "terminated"}
    assert api.get("/me").status_code == 401  # sign-in and tokens end with the account
    assert not Notice.objects.filter(customer=alice, kind="refund_issued").exists()
    assert balance_before == [{"amount": "10.00", "currency": "USD"}]
    [closed_event] = audit("account.closed", alice.public_id)
    assert (closed_event.requirement, closed_event.data["case"]) == ("TOS-VIOLATION-1", case.public_id)
    gone = Service.objects.filter(customer=alice, status="terminated").count()
    terminated = Notice.objects.filter(customer=alice, kind="service_terminated")
    assert gone >= 1
    assert [n.requirement for n in terminated] == ["TOS-VIOLATION-1"] * gone
    assert all("nothing is refunded" in n.body_text for n in terminated)
    suspended_notices = Notice.objects.filter(customer=alice, kind="service_suspended")
    assert [n.requirement for n in suspended_notices] == ["TOS-VIOLATION-1", "TOS-VIOLATION-1"]


def test_tos_abuse_2_repeat_offences(alice, bob, vps, staff, django_capture_on_commit_callbacks):
    """The Terms' repeat-offence policy: three cases within 90 days. Under "propose" the dry run names the
    customer, the run records the offence once and tells staff, who suspend through the staff API; under
    "suspend_account" (a new Terms version) the desk suspends the account itself."""
    alices = Service.objects.get(public_id=running_service(alice, vps, django_capture_on_commit_callbacks))
    for category in ("spam", "phishing", "scanning"):
        open_case(alices, category)
    out = io.StringIO()
    call_command("abuse", "run", "--dry-run", stdout=out)
    assert f"repeat_offence: 1\n  {alice.public_id}: 3 cases" in out.getvalue()
    assert "→ propose" in out.getvalue()
    desk = staff_api(staff)
    assert desk.get("/staff/abuse/repeat-offences").json() == []

    with django_capture_on_commit_callbacks(execute=True):
        call_command("abuse", "run", stdout=io.StringIO())
        call_command("abuse", "run", stdout=io.StringIO())  # once, however often it runs
    [offence] = desk.get("/staff/abuse/repeat-offences").json()
    assert (offence["customer"], offence["outcome"], len(offence["cases"])) == (alice.public_id, "proposed", 3)
    [told] = Notice.objects.filter(kind="repeat_offence")
    assert (told.requirement, told.customer) == ("TOS-ABUSE-2", None)
    [found] = audit("abuse.repeat_offence", alice.public_id)
    assert (found.requirement, found.data["measure"]) == ("TOS-ABUSE-2", "propose")
    assert customer_api(alice).get(f"/services/{alices.public_id}").json()["status"] == "active"

    decide = f"/staff/abuse/repeat-offences/{offence['id']}/decide"
    assert desk.post(decide, {"suspend": True, "note": ""}).status_code == 422
    with django_capture_on_commit_callbacks(execute=True):
        decided = desk.post(decide, {"suspend": True, "note": "three complaints in a week"})
    assert (decided.status_code, decided.json()["outcome"]) == (200, "suspended")
    assert customer_api(alice).get(f"/services/{alices.public_id}").json()["status"] == "suspended"
    [suspended] = audit("account.suspended", alice.public_id)
    assert (suspended.requirement, suspended.data["case"]) == ("TOS-ABUSE-2", offence["cases"][-1])
    again = desk.post(decide, {"suspend": False, "note": "changed my mind"})
    assert (again.status_code, again.json()["type"]) == (409, "/problems/already-decided")

    policy = default_policy_data()
    policy["abuse"]["repeat_offence"] = {"cases": 2, "days": 30, "measure": "suspend_account"}
    published = desk.post(
        "/staff/terms",
        {
            "body": "Megalayer Terms of Service\n\nRepeat offences suspend the account.\n",
            "summary": "Two cases in 30 days suspend the account.",
            "update_date": clock.now().date().isoformat(),
            "effective_at": (clock.now() + dt.timedelta(minutes=1)).isoformat(),
            "policy": policy,
        },
    )
    assert published.status_code == 201, published.content
    bobs = Service.objects.get(public_id=running_service(bob, vps, django_capture_on_commit_callbacks))
    later = clock.now() + dt.timedelta(minutes=2)
    with clock.travel(later), django_capture_on_commit_callbacks(execute=True):
        open_case(bobs, "spam")
        open_case(bobs, "brute_force")
        call_command("abuse", "run", stdout=io.StringIO())
    assert customer_api(bob).get(f"/services/{bobs.public_id}").json()["status"] == "suspended"
    [automatic] = audit("account.suspended", bob.public_id)
    assert (automatic.actor_label, automatic.requirement, automatic.terms_version) == ("abuse desk", "TOS-ABUSE-2", 2)


TERMS_CATEGORIES = {
    "political": "Sensitive political use",
    "hacking": "Hacking / malware",
    "phishing": "Phishing / fraud",
    "illegal_content": "Illegal content",
    "copyright": "Copyright infringement",
    "spam": "Spam",
    "retaliation": "Activity drawing retaliation",
    "crime": "Other crimes",
    "dos": "Denial of service",
    "scanning": "Scanning",
    "brute_force": "Brute force",
    "network": "Network interference",
    "pyramid": "Pyramid scheme",
}


def test_tos_aup_1(alice, vps, staff, django_capture_on_commit_callbacks):
    """Every category of forbidden use the Terms list is one the desk files cases under; a report submitted
    by staff through the API opens a case in its category."""
    assert {c: label for c, label in AbuseCategory.choices if c != "other"} == TERMS_CATEGORIES
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    address = _address_of(customer_api(alice), service_id)
    later = clock.now() + dt.timedelta(minutes=10)
    report = json.dumps(
        {
            "Version": "3",
            "ReporterInfo": {"ReporterOrg": "Rights Agency", "ReporterOrgEmail": "abuse@rights-agency.example"},
            "Disclosure": True,
            "Report": {
                "ReportClass": "Content",
                "ReportType": "Phishing",
                "Date": later.isoformat(),
                "SourceIp": address,
                "Url": "http://login-bank.example/",
            },
        }
    ).encode()
    with clock.travel(later + dt.timedelta(minutes=1)), django_capture_on_commit_callbacks(execute=True):
        submitted = Client().post(
            "/api/v1/staff/abuse/reports", report, content_type="application/json", **bearer(staff, staff=True)
        )
    assert submitted.status_code == 201, submitted.content
    [event] = submitted.json()["events"]
    assert (event["address"], event["category"], event["customer"]) == (address, "phishing", alice.public_id)
    [case] = staff_api(staff).get("/staff/abuse/cases").json()
    assert (case["category"], case["service"]) == ("phishing", service_id)


def test_tos_hold_1(alice, vps, django_capture_on_commit_callbacks):
    """A legal hold keeps the server and the customer's records with checksums; while it stands neither expiry,
    nor staff termination, nor the customer's deletion request deletes anything under it."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    legal = staff_api(make_staff("counsel@megalayer.test", "legal", "abuse"))
    with django_capture_on_commit_callbacks(execute=True):
        placed = legal.post("/staff/legal-holds", {"reason": "preserve for the prosecutor", "service": service_id})
    assert placed.status_code == 201, placed.content
    hold = placed.json()
    assert hold["evidence"]["records"]["customers"] == [alice.public_id]
    assert len(hold["evidence"]["records"]["sha256"]) == 64
    api = customer_api(alice)
    refused = legal.post(
        f"/staff/services/{service_id}/terminate",
        {"reason": "staff", "requirement": "TOS-TERM-1", "note": "end it"},
    )
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/legal-hold")
    assert api.patch(f"/services/{service_id}", {"auto_renew": False}).status_code == 200
    expiry = dt.datetime.fromisoformat(api.get(f"/services/{service_id}").json()["paid_until"])
    with clock.travel(expiry + dt.timedelta(days=8)), django_capture_on_commit_callbacks(execute=True):
        call_command("automation", "run", stdout=io.StringIO())
        assert api.get(f"/services/{service_id}").json()["status"] == "suspended"  # suspended, not deleted
    [held] = audit("service.deletion_held", service_id)  # recorded once, however often the run tries
    assert held.requirement == "TOS-HOLD-1"
    with clock.travel(expiry + dt.timedelta(days=9)), django_capture_on_commit_callbacks(execute=True):
        call_command("automation", "run", stdout=io.StringIO())
    assert len(audit("service.deletion_held", service_id)) == 1
    deletion = api.post("/privacy/deletion", {"password": PASSWORD, "confirm": True, "acknowledge_balance": True})
    assert deletion.status_code == 409
    assert api.get(f"/services/{service_id}").json()["status"] == "suspended"
