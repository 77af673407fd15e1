import pytest

from megalayer.billing.models import Payment, TaxRate
from megalayer.billing.tests.conftest import fund, issued_invoice
from megalayer.core.money import Money
from megalayer.ledger.queries import customer_balance

pytestmark = pytest.mark.django_db


def test_sandbox_top_up_from_the_client_area(alice_client, alice, settings, django_capture_on_commit_callbacks):
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    page = alice_client.get("/account/billing/").content.decode()
    assert "SANDBOX" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/account/billing/", {"amount": "15.00", "gateway": "sandbox"})
    assert response.status_code == 302
    assert customer_balance(alice, "USD") == Money.of("15.00", "USD")
    page = alice_client.get("/account/billing/").content.decode()
    assert "15.00 USD" in page
    assert "Payment pay_" in page
    bad = alice_client.post("/account/billing/", {"amount": "-5", "gateway": "sandbox"})
    assert bad.status_code == 200
    assert Payment.objects.count() == 1


def test_auto_apply_toggle(alice_client, alice):
    alice_client.post("/account/billing/", {"auto_apply": "off"})
    alice.refresh_from_db()
    assert alice.auto_apply_balance is False
    alice_client.post("/account/billing/", {"auto_apply": "on"})
    alice.refresh_from_db()
    assert alice.auto_apply_balance is True


def test_invoice_pages_pay_and_pdf(alice_client, alice):
    invoice = issued_invoice(alice, "12.00")
    listing = alice_client.get("/account/billing/invoices/").content.decode()
    assert "INV-000001" in listing
    detail = alice_client.get(f"/account/billing/invoices/{invoice.public_id}/").content.decode()
    assert "Pay from your balance" in detail
    short = alice_client.post(f"/account/billing/invoices/{invoice.public_id}/", {"key": "k1"})
    assert "The account balance is too low for this payment." in short.content.decode()
    fund(alice, "12.00")
    paid = alice_client.post(f"/account/billing/invoices/{invoice.public_id}/", {"key": "k2"})
    assert paid.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    pdf = alice_client.get(f"/account/billing/invoices/{invoice.public_id}/pdf/")
    assert pdf.content.startswith(b"%PDF-")


def test_another_customers_invoice_pages_are_404(alice_client, bob):
    theirs = issued_invoice(bob, "12.00")
    for suffix in ("", "pdf/"):
        assert alice_client.get(f"/account/billing/invoices/{theirs.public_id}/{suffix}").status_code == 404
    assert alice_client.post(f"/account/billing/invoices/{theirs.public_id}/", {"key": "x"}).status_code == 404


def test_staff_record_a_transfer_once_refund_and_keep_tax_rates(staff_client, alice):
    form = {"customer": alice.public_id, "amount": "40.00", "bank_reference": "HSBC-2026-0001"}
    assert staff_client.post("/backoffice/billing/payments/", form).status_code == 302
    again = staff_client.post("/backoffice/billing/payments/", form)
    assert "was recorded already" in again.content.decode()
    assert customer_balance(alice, "USD") == Money.of("40.00", "USD")
    invoice = issued_invoice(alice, "40.00")
    assert invoice.status == "paid"
    refund = staff_client.post(
        f"/backoffice/billing/invoices/{invoice.public_id}/",
        {"amount": "10.00", "reason": "provider_outage", "destination": "balance", "note": "HKG outage", "key": "r1"},
    )
    assert refund.status_code == 302
    assert customer_balance(alice, "USD") == Money.of("10.00", "USD")
    ledger = staff_client.get(f"/backoffice/customers/{alice.public_id}/ledger/").content.decode()
    assert "Refund of 10.00 USD" in ledger
    bad = staff_client.post("/backoffice/billing/tax-rates/", {"country": "Germany", "name": "VAT", "rate": "19"})
    assert "at most 2 characters" in bad.content.decode()
    numeric = staff_client.post("/backoffice/billing/tax-rates/", {"country": "12", "name": "VAT", "rate": "19"})
    assert "two-letter" in numeric.content.decode()
    assert TaxRate.objects.count() == 0
    staff_client.post(
        "/backoffice/billing/tax-rates/", {"country": "de", "name": "USt", "rate": "19", "eu_member": "on"}
    )
    assert TaxRate.objects.get(country="DE").eu_member is True


def test_customers_cannot_open_billing_back_office(alice_client, alice):
    for path in (
        "/backoffice/billing/invoices/",
        "/backoffice/billing/payments/",
        "/backoffice/billing/tax-rates/",
        f"/backoffice/customers/{alice.public_id}/ledger/",
    ):
        assert alice_client.get(path).status_code == 302
    alice_client.post(
        "/backoffice/billing/payments/", {"customer": alice.public_id, "amount": "1000", "bank_reference": "fake"}
    )
    assert customer_balance(alice, "USD") == Money.of("0", "USD")


def test_invoice_document_is_framed_from_the_same_origin_only_for_its_owner(alice_client, alice, bob):
    invoice = issued_invoice(alice, "12.00")
    document = alice_client.get(f"/account/billing/invoices/{invoice.public_id}/document/")
    assert document["X-Frame-Options"] == "SAMEORIGIN"
    assert "Invoice INV-000001" in document.content.decode()
    theirs = issued_invoice(bob, "1.00")
    assert alice_client.get(f"/account/billing/invoices/{theirs.public_id}/document/").status_code == 404
