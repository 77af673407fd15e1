import json

import pytest
from django.test import Client

from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.conftest import bearer, open_case
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
JSON = "application/json"


def test_catalog_order_and_services(alice, vps, django_capture_on_commit_callbacks):
    headers = bearer(alice.owner, scope="write")
    products = Client().get("/api/v1/catalog/products?tier=premium", **headers).json()
    assert [p["code"] for p in products] == [vps.code]
    assert products[0]["prices"] == [{"cycle": "monthly", "price": {"amount": "10.00", "currency": "USD"}}]
    assert "centos-7" not in products[0]["os_images"]
    refused = Client().post("/api/v1/orders", json.dumps({"product": vps.code}), content_type=JSON, **headers)
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/billing-profile-required")
    with_billing(alice)
    fund(alice, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        placed = Client().post(
            "/api/v1/orders", json.dumps({"product": vps.code, "os_image": "debian-12"}), content_type=JSON, **headers
        )
    assert placed.status_code == 201
    service_id = placed.json()["service"]
    listing = Client().get("/api/v1/services", **headers).json()
    assert [s["id"] for s in listing["items"]] == [service_id]
    assert listing["items"][0]["status"] == "active"
    renewed = Client().post(f"/api/v1/services/{service_id}/renew", content_type=JSON, **headers)
    assert renewed.status_code == 200


def alice_service(alice, vps):
    """A service of another customer, to show a case about someone else is refused."""
    with_billing(alice)
    fund(alice, "10.00")
    headers = bearer(alice.owner, scope="write")
    Client().post("/api/v1/orders", json.dumps({"product": vps.code}), content_type=JSON, **headers)
    return Service.objects.get(customer=alice)


def test_staff_enforcement_needs_a_staff_token_and_is_audited(
    alice, bob, staff, vps, django_capture_on_commit_callbacks
):
    with_billing(bob)
    fund(bob, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(
            "/api/v1/orders", json.dumps({"product": vps.code}), content_type=JSON, **bearer(bob.owner, scope="write")
        )
    service = Service.objects.get(customer=bob)
    body = json.dumps({"reason": "abuse", "note": "spam run, case 12", "requirement": "TOS-ABUSE-2"})
    url = f"/api/v1/staff/services/{service.public_id}/suspend"
    assert Client().post(url, body, content_type=JSON, **bearer(alice.owner, scope="write")).status_code == 403
    assert Client().get(f"/api/v1/services/{service.public_id}", **bearer(alice.owner)).status_code == 404
    service.refresh_from_db()
    assert service.status == "active"
    staff_headers = bearer(staff, scope="write", staff=True)
    refused = [
        Client().post(url, json.dumps(payload), content_type=JSON, **staff_headers).json()
        for payload in (
            {"reason": "abuse", "note": "spam run"},
            {"reason": "abuse", "note": "spam run", "case": "abc_nosuch"},
            {"reason": "abuse", "note": "spam run", "case": open_case(alice_service(alice, vps)).public_id},
            {"reason": "staff", "note": "spam run", "requirement": "TOS-MADEUP-9"},
        )
    ]
    assert [(p["status"], p["errors"][0]["field"]) for p in refused] == [(422, "case")] * 3 + [(422, "requirement")]
    service.refresh_from_db()
    assert service.status == "active"
    case = open_case(service)
    body = json.dumps({"reason": "abuse", "note": "spam run, case 12", "case": case.public_id})
    done = Client().post(url, body, content_type=JSON, **staff_headers)
    assert (done.status_code, done.json()["status"], done.json()["reason"]) == (200, "suspended", "abuse")
    twice = Client().post(url, body, content_type=JSON, **staff_headers)
    assert (twice.status_code, twice.json()["type"]) == (409, "/problems/illegal-transition")
    event = AuditEvent.objects.get(action="service.suspended", target_id=service.public_id)
    assert (event.requirement, event.actor_label, event.data["note"]) == (
        "TOS-ABUSE-2",
        "staff@megalayer.test",
        f"spam run, case 12 (case {case.public_id})",
    )
    linked = AuditEvent.objects.get(action="abuse.service_suspend", target_id=case.public_id)
    assert (linked.requirement, linked.data["service"]) == ("TOS-ABUSE-2", service.public_id)
    back = Client().post(
        f"/api/v1/staff/services/{service.public_id}/unsuspend", body, content_type=JSON, **staff_headers
    )
    assert back.json()["status"] == "active"
