"""Billing, balance and price, end to end (requirements.md, "Billing, balance and price")."""

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from megalayer.accounts.actions import BillingData, billing_profile_update
from megalayer.audit.models import AuditEvent
from megalayer.billing.models import TaxRate
from megalayer.billing.tests.conftest import fund
from megalayer.conformance.tests.steps import audit, customer_api, notices, portal, running_service, staff_api
from megalayer.conftest import make_staff
from megalayer.core import clock
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


def _ordered(api, vps, capture, **extra):
    with capture(execute=True):
        placed = api.post("/orders", {"product": vps.code, **extra})
    assert placed.status_code == 201, placed.content
    return placed.json()


def test_tos_bal_2(alice, vps, django_capture_on_commit_callbacks):
    """Every balance change is a ledger posting; the same payment retried with its Idempotency-Key posts once;
    a payment the balance does not cover is refused with nothing changed."""
    with_billing(alice)
    api = customer_api(alice)
    settings_auto_off = portal(alice).post("/account/billing/", {"auto_apply": "off"})
    assert settings_auto_off.status_code == 302
    order = _ordered(api, vps, django_capture_on_commit_callbacks)
    short = api.post(f"/invoices/{order['invoice']}/pay")
    assert (short.status_code, short.json()["type"]) == (409, "/problems/insufficient-balance")
    assert api.get("/balance/transactions").json()["items"] == []
    fund(alice, "15.00")
    with django_capture_on_commit_callbacks(execute=True):
        replies = [
            api.client.post(
                f"/api/v1/invoices/{order['invoice']}/pay",
                "{}",
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY="pay-order-1",
                **api.headers,
            )
            for _ in range(3)
        ]
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert len({r.content for r in replies}) == 1  # the same answer each time
    amounts = [t["amount"]["amount"] for t in api.get("/balance/transactions").json()["items"]]
    assert sorted(amounts) == ["-10.00", "15.00"]
    assert api.get("/balance").json()["balances"] == [{"amount": "5.00", "currency": "USD"}]
    [paid] = audit("invoice.pay_from_balance", order["invoice"])  # one payment, however often it was asked
    assert paid.requirement == "TOS-BAL-1"


def test_tos_tax_1(alice, vps, django_capture_on_commit_callbacks):
    """Prices are shown without tax; the invoice computes tax from the billing country as its own line."""
    TaxRate.objects.create(country="SG", name="GST", rate=Decimal("9.00"))
    billing_profile_update(
        customer=alice,
        data=BillingData(name="Alice Tan", address_line1="1 Raffles Place", city="Singapore", country="SG"),
    )
    api = customer_api(alice)
    [product] = api.get("/catalog/products").json()
    assert product["prices"][0]["price"] == {"amount": "10.00", "currency": "USD"}
    order = _ordered(api, vps, django_capture_on_commit_callbacks)
    invoice = api.get(f"/invoices/{order['invoice']}").json()
    assert (invoice["subtotal"]["amount"], invoice["tax"]["amount"], invoice["total"]["amount"]) == (
        "10.00",
        "0.90",
        "10.90",
    )
    [event] = audit("invoice.issue", order["invoice"])
    assert (event.requirement, event.data["tax"]["rate"]) == ("TOS-INVOICE-1", "9.00")


def test_tos_invoice_1(alice, bob, vps, django_capture_on_commit_callbacks):
    """Invoices are numbered without gaps across customers, immutable once issued, and downloadable as PDF."""
    numbers = []
    for customer in (alice, bob, alice):
        with_billing(customer)
        fund(customer, "10.00")
        numbers.append(
            customer_api(customer)
            .get(f"/invoices/{_ordered(customer_api(customer), vps, django_capture_on_commit_callbacks)['invoice']}")
            .json()["number"]
        )
    assert numbers == ["INV-000001", "INV-000002", "INV-000003"]
    api = customer_api(alice)
    first = api.get("/invoices").json()["items"][-1]
    pdf = api.get(f"/invoices/{first['id']}/pdf")
    assert (pdf.status_code, pdf["Content-Type"], pdf.content[:5]) == (200, "application/pdf", b"%PDF-")
    assert customer_api(bob).get(f"/invoices/{first['id']}").status_code == 404
    unpaid = _ordered(api, vps, django_capture_on_commit_callbacks)  # no balance left: stays issued
    desk = staff_api(make_staff("billing@megalayer.test", "billing"))
    credited = desk.post(
        f"/staff/invoices/{unpaid['invoice']}/credit-notes",
        {"amount": {"amount": "2.00", "currency": "USD"}, "reason": "wrong add-on billed"},
    )
    assert credited.status_code == 201, credited.content
    assert (credited.json()["number"], credited.json()["amount_due"]["amount"]) == ("CN-000001", "8.00")
    corrected = api.get(f"/invoices/{unpaid['invoice']}").json()
    assert (corrected["number"], corrected["total"]["amount"], corrected["amount_due"]["amount"]) == (
        "INV-000004",
        "10.00",
        "8.00",
    )
    paid = desk.post(
        f"/staff/invoices/{first['id']}/credit-notes",
        {"amount": {"amount": "1.00", "currency": "USD"}, "reason": "x"},
    )
    assert (paid.status_code, paid.json()["type"]) == (409, "/problems/invoice-not-creditable")
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    assert not any(
        method in ("put", "patch", "delete") for p, ops in paths.items() if "invoices" in p for method in ops
    )


def test_tos_refund_1(alice, vps, staff, django_capture_on_commit_callbacks):
    """Refunds only for reasons on the provider's side, decided by staff with a reason, back to the balance;
    the customer has no refund path of their own."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    api, desk = customer_api(alice), staff_api(staff)
    [invoice] = api.get("/invoices").json()["items"]
    refund = {
        "invoice": invoice["id"],
        "amount": {"amount": "4.00", "currency": "USD"},
        "reason": "provider_outage",
        "note": "Outage in HKG",
        "destination": "balance",
    }
    assert api.post("/staff/refunds", refund).status_code == 403
    customer_reason = desk.post("/staff/refunds", {**refund, "reason": "customer_request"})
    assert (customer_reason.status_code, customer_reason.json()["errors"][0]["field"]) == (422, "reason")
    with django_capture_on_commit_callbacks(execute=True):
        done = desk.post("/staff/refunds", refund)
    assert done.status_code in (201, 202), done.content
    if done.status_code == 202:  # above the four-eyes limit: a second member approves
        second = staff_api(make_staff("second@megalayer.test", "billing"))
        with django_capture_on_commit_callbacks(execute=True):
            assert second.post(f"/staff/approvals/{done.json()['id']}/approve", {}).status_code == 200
    assert api.get("/balance").json()["balances"] == [{"amount": "4.00", "currency": "USD"}]
    [told] = notices(api, "refund_issued")
    assert told["requirement"] == "TOS-REFUND-1"
    assert [e.requirement for e in AuditEvent.objects.filter(action__startswith="refund.")][:1] == ["TOS-REFUND-1"]
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    assert [p for p in paths if "refund" in p] == ["/api/v1/staff/refunds"]
    assert service_id


def test_tos_price_1(alice, bob, vps, staff_client, django_capture_on_commit_callbacks):
    """A new price applies to orders placed after it; a running service keeps the price it was ordered at for
    every renewal."""
    service_id = running_service(alice, vps, django_capture_on_commit_callbacks)
    start = (clock.now() + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    saved = staff_client.post(
        f"/backoffice/products/{vps.code}/", {"cycle": "monthly", "amount": "12.00", "effective_at": start}
    )
    assert saved.status_code == 302
    with clock.travel(clock.now() + dt.timedelta(minutes=2)):
        [product] = customer_api(bob).get("/catalog/products").json()
        assert product["prices"][0]["price"]["amount"] == "12.00"
        with_billing(bob)
        bobs = _ordered(customer_api(bob), vps, django_capture_on_commit_callbacks)
        assert bobs["price"] == {"amount": "12.00", "currency": "USD"}
        kept = customer_api(alice).get(f"/services/{service_id}").json()
    assert kept["price"] == {"amount": "10.00", "currency": "USD"}
    [event] = audit("price.add", vps.code)
    assert event.requirement == "TOS-PRICE-1"


def test_tos_expire_1(alice, vps, settings, django_capture_on_commit_callbacks):
    """An unpaid service expires at its paid-until time, is suspended a day later and deleted seven days after
    expiry, each with its notice; paying before deletion recovers it."""
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    kept_id = running_service(alice, vps, django_capture_on_commit_callbacks, funds="20.00")
    api = customer_api(alice)
    lapsed_id = _ordered(api, vps, django_capture_on_commit_callbacks)["service"]
    for service_id in (kept_id, lapsed_id):
        assert api.patch(f"/services/{service_id}", {"auto_renew": False}).status_code == 200
    expiry = dt.datetime.fromisoformat(api.get(f"/services/{kept_id}").json()["paid_until"])

    def run(at: dt.datetime) -> None:
        with clock.travel(at), django_capture_on_commit_callbacks(execute=True):
            call_command("automation", "run", stdout=io.StringIO())

    run(expiry - dt.timedelta(days=7, minutes=-1))  # the renewal invoices
    run(expiry + dt.timedelta(days=1, minutes=1))
    assert {api.get(f"/services/{s}").json()["status"] for s in (kept_id, lapsed_id)} == {"suspended"}
    suspended = notices(api, "service_suspended")
    assert [n["requirement"] for n in suspended] == ["TOS-EXPIRE-1", "TOS-EXPIRE-1"]
    assert all("data will be deleted on" in n["subject"] for n in suspended)

    with clock.travel(expiry + dt.timedelta(days=3)), django_capture_on_commit_callbacks(execute=True):
        invoices = [i for i in api.get("/invoices").json()["items"] if i["status"] == "issued"]
        assert len(invoices) == 2
        fund(alice, "10.00")  # auto-apply on, auto-renew off: the top-up waits on the balance
        paid = api.post(f"/invoices/{_renewal_of(api, kept_id, invoices)}/pay")
        assert paid.status_code == 200, paid.content
    assert api.get(f"/services/{kept_id}").json()["status"] == "active"
    assert [n["requirement"] for n in notices(api, "service_recovered")] == ["TOS-EXPIRE-1"]
    run(expiry + dt.timedelta(days=7, minutes=1))
    assert api.get(f"/services/{lapsed_id}").json()["status"] == "terminated"
    assert api.get(f"/services/{kept_id}").json()["status"] == "active"
    [terminated] = notices(api, "service_terminated")
    assert terminated["requirement"] == "TOS-EXPIRE-1"
    assert [e.requirement for e in audit("service.suspended", lapsed_id)] == ["TOS-EXPIRE-1"]


def _renewal_of(api: Any, service_id: str, invoices: list[Any]) -> str:
    for invoice in invoices:
        if any(service_id in line["description"] for line in invoice["lines"]):
            return str(invoice["id"])
    raise AssertionError(f"no renewal invoice for {service_id}")
