from decimal import Decimal

import pytest

from megalayer.accounts.actions import BillingData, billing_profile_update
from megalayer.audit.actions import Actor
from megalayer.billing.actions import LineData, invoice_create, invoice_issue, payment_start, payment_succeeded
from megalayer.billing.models import TaxRate
from megalayer.core.money import Money

SYSTEM = Actor.system("test")


@pytest.fixture
def rates(db):
    TaxRate.objects.create(country="DE", name="USt", rate=Decimal("19.00"), eu_member=True)
    TaxRate.objects.create(country="FR", name="TVA", rate=Decimal("20.00"), eu_member=True)
    TaxRate.objects.create(country="SG", name="GST", rate=Decimal("9.00"))
    TaxRate.objects.create(country="JP", name="JCT", rate=Decimal("10.00"))


def billed_in(customer, country: str, tax_id: str = "", organisation: str = "") -> None:
    billing_profile_update(
        customer=customer,
        data=BillingData(
            name="Name",
            address_line1="1 Street",
            city="City",
            country=country,
            tax_id=tax_id,
            organisation=organisation,
        ),
    )


def issued_invoice(customer, *prices: str, currency: str = "USD"):
    lines = [
        LineData(kind="test", description=f"Item {i}", unit_price=Money.of(p, currency)) for i, p in enumerate(prices)
    ]
    return invoice_issue(invoice=invoice_create(customer=customer, lines=lines, currency=currency), actor=SYSTEM)


def fund(customer, amount: str, currency: str = "USD"):
    payment = payment_start(customer=customer, amount=Money.of(amount, currency), gateway="manual")
    return payment_succeeded(payment=payment)
