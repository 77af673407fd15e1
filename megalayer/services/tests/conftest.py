from megalayer.accounts.actions import BillingData, billing_profile_update
from megalayer.accounts.models import Customer


def with_billing(customer: Customer) -> Customer:
    billing_profile_update(
        customer=customer, data=BillingData(name="Alice", address_line1="1 Road", city="Hong Kong", country="HK")
    )
    return customer
