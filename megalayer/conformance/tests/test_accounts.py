"""Accounts and communication, end to end (requirements.md, first section)."""

import pytest

from megalayer.conformance.tests.steps import audit, customer_api, notices, portal, running_service, staff_api

pytestmark = pytest.mark.django_db


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
