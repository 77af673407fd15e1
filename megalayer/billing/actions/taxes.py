"""Tax rates by country, as staff set them (TOS-TAX-1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.models import TaxRate
from megalayer.core.errors import InvalidInput


def tax_rate_save(*, country: str, name: str, rate: Decimal, eu_member: bool, staff: User) -> Any:

    country = country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Use the two-letter ISO country code.", field="country")
    if not Decimal(0) <= rate <= Decimal(100):
        raise InvalidInput("The rate is a percentage between 0 and 100.", field="rate")
    with transaction.atomic():
        tax_rate, _ = TaxRate.objects.update_or_create(
            country=country, defaults={"name": name.strip() or "VAT", "rate": rate, "eu_member": eu_member}
        )
        audit_record(
            actor=Actor.for_user(staff),
            action="tax_rate.save",
            target_type="tax_rate",
            target_id=country,
            requirement="TOS-TAX-1",
            data={"rate": str(rate), "name": name, "eu_member": eu_member},
        )
    return tax_rate
