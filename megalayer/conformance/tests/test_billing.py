"""Billing, balance and price, end to end (requirements.md, "Billing, balance and price")."""

import pytest

from megalayer.conformance.tests.steps import audit, customer_api, notices, portal
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db


def test_tos_bal_1(alice, vps, settings, django_capture_on_commit_callbacks):
    """An order placed without enough balance waits on its invoice; a top-up through a gateway reaches the
    balance and pays that open invoice (auto-apply on), which starts the service. No payout path exists."""
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    with_billing(alice)
    api = customer_api(alice)
    with django_capture_on_commit_callbacks(execute=True):
        placed = api.post("/orders", {"product": vps.code, "os_image": "debian-12"})
    assert (placed.status_code, placed.json()["status"], placed.json()["service"]) == (201, "awaiting_payment", None)
    invoice_id = placed.json()["invoice"]
    assert api.get(f"/invoices/{invoice_id}").json()["status"] == "issued"
    assert api.get("/balance").json()["auto_apply"] is True

    top_up = {"amount": {"amount": "25.00", "currency": "USD"}, "gateway": "sandbox"}
    with django_capture_on_commit_callbacks(execute=True):
        paid = api.post("/balance/top-ups", top_up)
    assert paid.status_code == 201
    assert api.get(f"/invoices/{invoice_id}").json()["status"] == "paid"
    assert api.get("/balance").json()["balances"] == [{"amount": "15.00", "currency": "USD"}]
    [order] = api.get("/orders").json()
    assert order["status"] == "accepted"
    assert api.get(f"/services/{order['service']}").json()["status"] == "active"
    assert [n["requirement"] for n in notices(api, "service_activated")] == ["TOS-ORDER-1"]
    [credited] = audit("payment.succeeded", paid.json()["id"])
    assert credited.requirement == "TOS-BAL-1"
    operations = {op for path in api.client.get("/api/v1/openapi.json").json()["paths"] for op in [path]}
    assert not any("withdraw" in path or "payout" in path for path in operations)


def test_a_top_up_pays_nothing_when_auto_apply_is_off(alice, vps, settings, django_capture_on_commit_callbacks):
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    with_billing(alice)
    api = customer_api(alice)
    assert portal(alice).post("/account/billing/", {"auto_apply": "off"}).status_code == 302
    assert api.get("/balance").json()["auto_apply"] is False
    with django_capture_on_commit_callbacks(execute=True):
        invoice_id = api.post("/orders", {"product": vps.code}).json()["invoice"]
        api.post("/balance/top-ups", {"amount": {"amount": "25.00", "currency": "USD"}, "gateway": "sandbox"})
    assert api.get(f"/invoices/{invoice_id}").json()["status"] == "issued"
    assert api.get("/balance").json()["balances"] == [{"amount": "25.00", "currency": "USD"}]
