"""Writes to the catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.catalog.models import PriceVersion, Product
from megalayer.core import clock
from megalayer.core.errors import InvalidInput


def price_version_add(
    *, product: Product, cycle: str, amount: Decimal, effective_at: dt.datetime, staff: Any, currency: str = "USD"
) -> PriceVersion:
    """A new price for new orders from ``effective_at`` (TOS-PRICE-1); running services keep theirs."""
    if effective_at < clock.now() - dt.timedelta(minutes=1):
        raise InvalidInput("A price cannot start in the past.", field="effective_at")
    if amount < 0:
        raise InvalidInput("The price cannot be negative.", field="amount")
    try:
        with transaction.atomic():
            price = PriceVersion.objects.create(
                product=product,
                cycle=cycle,
                amount=amount,
                currency=currency,
                effective_at=effective_at,
                created_at=clock.now(),
            )
            audit_record(
                actor=Actor.for_user(staff),
                action="price.add",
                target_type="product",
                target_id=product.code,
                requirement="TOS-PRICE-1",
                data={"cycle": cycle, "amount": str(amount), "effective_at": effective_at.isoformat()},
            )
    except IntegrityError as error:
        raise InvalidInput("A price for this cycle already starts at that time.", field="effective_at") from error
    return price
