"""The rest of the resource map: the customer's notices and Terms versions; staff customers, audit trail
(+ verify) and publishing the Terms."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.conftest import bearer
from megalayer.core import clock
from megalayer.notices.actions import notice_for_customer
from megalayer.privacy.actions import privacy_export
from megalayer.terms.models import TermsVersion
from megalayer.terms.policy import default_policy_data

pytestmark = pytest.mark.django_db


def _notice(customer, key: str):
    return notice_for_customer(
        kind="terms_changed", customer=customer, dedupe_key=key, context={"version": TermsVersion.objects.get()}
    )


def test_each_customer_reads_only_their_own_notices(alice, bob):
    mine = [_notice(alice, f"a{i}") for i in range(3)]
    theirs = _notice(bob, "b0")
    headers = bearer(alice.owner, scope="read")
    first = Client().get("/api/v1/notices?limit=2", **headers).json()
    second = Client().get(f"/api/v1/notices?limit=2&cursor={first['next']}", **headers).json()
    assert [n["id"] for n in first["items"] + second["items"]] == [n.public_id for n in reversed(mine)]
    assert second["next"] is None
    detail = Client().get(f"/api/v1/notices/{mine[0].public_id}", **headers).json()
    assert (detail["body_text"], detail["requirement"]) == (mine[0].body_text, "TOS-ACCEPT-2")
    hidden = Client().get(f"/api/v1/notices/{theirs.public_id}", **headers)
    assert (hidden.status_code, hidden["Content-Type"]) == (404, "application/problem+json")
    bad = Client().get("/api/v1/notices?cursor=%%%", **headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")


def test_the_terms_versions_say_when_i_accepted_each(alice):
    listed = Client().get("/api/v1/terms", **bearer(alice.owner, scope="read")).json()
    assert [(v["version"], v["accepted_at"] is not None) for v in listed] == [(1, True)]


def test_staff_find_customers_and_read_one(alice, bob, staff):
    headers = bearer(staff, staff=True)
    found = Client().get("/api/v1/staff/customers?q=bob", **headers).json()
    assert [c["id"] for c in found["items"]] == [bob.public_id]
    detail = Client().get(f"/api/v1/staff/customers/{alice.public_id}", **headers).json()
    assert (detail["email"], detail["status"], detail["deletion"], detail["services"]) == (
        "alice@example.com", "active", None, {},
    )  # fmt: skip
    assert Client().get("/api/v1/staff/customers/cus_nope", **headers).status_code == 404
    assert Client().get("/api/v1/staff/customers", **bearer(alice.owner)).status_code == 403


def test_staff_read_and_verify_the_audit_trail(alice, bob, staff):
    headers = bearer(staff, staff=True)
    for customer in (alice, bob, alice):
        privacy_export(customer=customer, actor=Actor.for_user(staff))
    published = AuditEvent.objects.get(action="terms.publish")
    page = Client().get("/api/v1/staff/audit?action=terms.", **headers).json()
    assert [(e["id"], e["hash"], e["requirement"]) for e in page["items"]] == [
        (published.id, published.hash, published.requirement)
    ]
    everything = list(AuditEvent.objects.order_by("-id").values_list("id", flat=True))
    assert len(everything) > 2
    first = Client().get("/api/v1/staff/audit?limit=2", **headers).json()
    rest = Client().get(f"/api/v1/staff/audit?limit=100&cursor={first['next']}", **headers).json()
    assert [e["id"] for e in first["items"] + rest["items"]] == everything
    by_target = Client().get(f"/api/v1/staff/audit?target_id={bob.public_id}", **headers).json()
    assert [(e["action"], e["target_id"]) for e in by_target["items"]] == [("privacy.exported", bob.public_id)]
    assert Client().get("/api/v1/staff/audit/verify", **headers).json() == {
        "ok": True, "checked": len(everything), "broken_event_id": None, "reason": "",
    }  # fmt: skip


def test_staff_publish_the_terms_and_a_bad_policy_is_named(staff, alice):
    headers = bearer(staff, staff=True)
    body = {
        "body": "Megalayer Terms of Service\n\nService Term\n\nServices run from payment; now 30 days.\n",
        "summary": "Longer quarantine.",
        "update_date": "2027-01-01",
        "effective_at": (clock.now() + dt.timedelta(days=30)).isoformat(),
        "policy": {**default_policy_data(), "network": {"ip_quarantine_days": -1}},
    }
    bad = Client().post("/api/v1/staff/terms", json.dumps(body), "application/json", **headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "policy.network.ip_quarantine_days")
    assert TermsVersion.objects.count() == 1
    body["policy"] = {**default_policy_data(), "network": {"ip_quarantine_days": 45}}
    made = Client().post("/api/v1/staff/terms", json.dumps(body), "application/json", **headers)
    assert (made.status_code, made.json()["version"]) == (201, 2)
    assert TermsVersion.objects.get(number=2).policy.network.ip_quarantine_days == 45
    refused = Client().post("/api/v1/staff/terms", json.dumps(body), "application/json", **bearer(alice.owner))
    assert refused.status_code == 403
