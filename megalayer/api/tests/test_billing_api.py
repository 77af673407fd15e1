import json

import pytest
from django.test import Client

from megalayer.billing.models import Payment, Refund
from megalayer.billing.tests.conftest import fund, issued_invoice
from megalayer.conftest import bearer
from megalayer.core.money import Money
from megalayer.ledger.queries import customer_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_api(alice):
    return bearer(alice.owner, scope="write")


def test_balance_and_transactions_with_cursor_paging(alice, alice_api):
    for index in range(3):
        fund(alice, f"{index + 1}.00")
    body = Client().get("/api/v1/balance", **alice_api).json()
    assert body == {"balances": [{"amount": "6.00", "currency": "USD"}], "auto_apply": True}
    page1 = Client().get("/api/v1/balance/transactions?limit=2", **alice_api).json()
    assert [item["amount"]["amount"] for item in page1["items"]] == ["3.00", "2.00"]
    page2 = Client().get(f"/api/v1/balance/transactions?limit=2&cursor={page1['next']}", **alice_api).json()
    assert [item["amount"]["amount"] for item in page2["items"]] == ["1.00"]
    assert page2["next"] is None
    bad = Client().get("/api/v1/balance/transactions?cursor=%%%", **alice_api)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")


def test_sandbox_top_up_credits_the_balance(alice, alice_api, settings, django_capture_on_commit_callbacks):
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    payload = {"amount": {"amount": "25.00", "currency": "USD"}, "gateway": "sandbox"}
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            "/api/v1/balance/top-ups", json.dumps(payload), content_type="application/json", **alice_api
        )
    assert response.status_code == 201
    assert response.json()["sandbox"] is True
    assert Payment.objects.get(public_id=response.json()["id"]).status == "succeeded"
    assert customer_balance(alice, "USD") == Money.of("25.00", "USD")
    refused = Client().post(
        "/api/v1/balance/top-ups",
        json.dumps({**payload, "gateway": "stripe"}),
        content_type="application/json",
        **alice_api,
    )
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "gateway")
    fractional = Client().post(
        "/api/v1/balance/top-ups",
        json.dumps({**payload, "amount": {"amount": "1.001", "currency": "USD"}}),
        content_type="application/json",
        **alice_api,
    )
    assert (fractional.status_code, fractional.json()["errors"][0]["field"]) == (422, "amount")


def test_invoices_are_listed_paid_and_refused_with_409(alice, alice_api):
    invoice = issued_invoice(alice, "10.00")
    listing = Client().get("/api/v1/invoices", **alice_api).json()
    assert [item["number"] for item in listing["items"]] == ["INV-000001"]
    short = Client().post(f"/api/v1/invoices/{invoice.public_id}/pay", content_type="application/json", **alice_api)
    assert short.status_code == 409
    assert short.json()["type"] == "/problems/insufficient-balance"
    assert short.json()["requirement"] == "TOS-BAL-2"
    fund(alice, "10.00")
    url = f"/api/v1/invoices/{invoice.public_id}/pay"
    paid = Client().post(url, content_type="application/json", HTTP_IDEMPOTENCY_KEY="pay-1", **alice_api)
    replay = Client().post(url, content_type="application/json", HTTP_IDEMPOTENCY_KEY="pay-1", **alice_api)
    assert paid.status_code == 200
    assert replay.content == paid.content
    assert customer_balance(alice, "USD") == Money.of("0", "USD")
    assert Client().get(f"/api/v1/invoices/{invoice.public_id}", **alice_api).json()["status"] == "paid"


def test_another_customers_invoice_is_404(alice, bob, alice_api):
    theirs = issued_invoice(bob, "10.00")
    for method, path in [("get", ""), ("post", "/pay"), ("get", "/pdf")]:
        response = getattr(Client(), method)(
            f"/api/v1/invoices/{theirs.public_id}{path}", content_type="application/json", **alice_api
        )
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"


def test_invoice_pdf_is_a_real_pdf(alice, alice_api):
    invoice = issued_invoice(alice, "10.00")
    response = Client().get(f"/api/v1/invoices/{invoice.public_id}/pdf", **alice_api)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def _refund(invoice, currency: str) -> dict[str, object]:
    return {
        "invoice": invoice.public_id,
        "amount": {"amount": "4.00", "currency": currency},
        "reason": "provider_outage",
        "note": "Outage in HKG",
        "destination": "balance",
    }


def test_staff_refunds_need_a_staff_token(alice, staff, alice_api):
    fund(alice, "10.00")
    invoice = issued_invoice(alice, "10.00")
    payload = _refund(invoice, "USD")
    as_customer = Client().post(
        "/api/v1/staff/refunds", json.dumps(payload), content_type="application/json", **alice_api
    )
    assert as_customer.status_code == 403
    assert Refund.objects.count() == 0
    as_staff = Client().post(
        "/api/v1/staff/refunds", json.dumps(payload), content_type="application/json", **bearer(staff, staff=True)
    )
    assert as_staff.status_code == 201
    assert as_staff.json()["amount"] == {"amount": "4.00", "currency": "USD"}
    assert customer_balance(alice, "USD") == Money.of("4.00", "USD")
    wrong_reason = Client().post(
        "/api/v1/staff/refunds",
        json.dumps({**payload, "reason": "customer_request"}),
        content_type="application/json",
        **bearer(staff, staff=True),
    )
    assert (wrong_reason.status_code, wrong_reason.json()["errors"][0]["field"]) == (422, "reason")


def test_two_customers_using_the_same_idempotency_key_both_pay(alice, bob, alice_api):
    mine, theirs = issued_invoice(alice, "10.00"), issued_invoice(bob, "10.00")
    fund(alice, "10.00")
    fund(bob, "10.00")
    bob_api = bearer(bob.owner, scope="write")
    for invoice, headers in [(mine, alice_api), (theirs, bob_api)]:
        response = Client().post(
            f"/api/v1/invoices/{invoice.public_id}/pay",
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="pay-1",
            **headers,
        )
        assert response.status_code == 200
        invoice.refresh_from_db()
        assert invoice.status == "paid"
    assert customer_balance(alice, "USD") == customer_balance(bob, "USD") == Money.of("0", "USD")


def test_without_weasyprint_the_pdf_is_a_clear_409_and_the_html_still_works(
    alice, alice_api, alice_client, monkeypatch
):
    import sys

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as on a host without Pango
    invoice = issued_invoice(alice, "10.00")
    response = Client().get(f"/api/v1/invoices/{invoice.public_id}/pdf", **alice_api)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/pdf-unavailable"
    page = alice_client.get(f"/account/billing/invoices/{invoice.public_id}/pdf/", follow=True)
    assert "PDF invoices are unavailable on this server" in page.content.decode()
    document = alice_client.get(f"/account/billing/invoices/{invoice.public_id}/document/")
    assert "Invoice INV-000001" in document.content.decode()


@pytest.mark.parametrize("currency", ["XXX", "BTC"])
def test_an_unknown_currency_is_a_422_naming_the_field(alice, alice_api, settings, currency):
    """Issue 14, item 10: it was a 500."""
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    payload = {"amount": {"amount": "25.00", "currency": currency}, "gateway": "sandbox"}
    response = Client().post(
        "/api/v1/balance/top-ups", json.dumps(payload), content_type="application/json", **alice_api
    )
    assert (response.status_code, response["Content-Type"]) == (422, "application/problem+json")
    assert response.json()["errors"][0]["field"] == "amount.currency"
    assert not Payment.objects.exists()


def test_a_refund_in_another_currency_than_the_invoice_s_is_a_422(alice, staff):
    fund(alice, "10.00")
    invoice = issued_invoice(alice, "10.00")
    payload = _refund(invoice, "EUR")
    response = Client().post(
        "/api/v1/staff/refunds", json.dumps(payload), content_type="application/json", **bearer(staff, staff=True)
    )
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "amount.currency")
    assert not Refund.objects.exists()
    assert customer_balance(alice, "USD") == Money.of("0.00", "USD")
