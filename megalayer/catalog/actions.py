"""Writes to the catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.catalog.models import Coupon, OsImage, PriceVersion, Product
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.core.money import Money


def price_version_add(
    *, product: Product, cycle: str, amount: Decimal, effective_at: dt.datetime, staff: User, currency: str = "USD"
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


def coupon_redeem(
    *, code: str, product: Product, price: Decimal, currency: str, customer_uses: int = 0
) -> tuple[Any, Decimal]:
    """Take one redemption of ``code`` for ``product`` (under a row lock) and return (coupon, discount).

    Runs inside the order's transaction: an order that fails gives the redemption back, and so does an
    order rejected or cancelled unpaid later (``coupon_release``). ``customer_uses``: the customer's live
    orders with this coupon, for its per-customer limit.
    """
    coupon = Coupon.objects.select_for_update().filter(code=code.strip().upper(), is_active=True).first()
    if coupon is None:
        raise InvalidInput("This coupon code does not exist.", field="coupon")
    if coupon.valid_until is not None and coupon.valid_until < clock.now():
        raise InvalidInput("This coupon has expired.", field="coupon")
    if coupon.products.exists() and not coupon.products.filter(pk=product.pk).exists():
        raise InvalidInput("This coupon does not apply to this product.", field="coupon")
    if coupon.max_redemptions is not None and coupon.redemptions >= coupon.max_redemptions:
        raise InvalidInput("This coupon has been used up.", field="coupon")
    if coupon.max_per_customer is not None and customer_uses >= coupon.max_per_customer:
        raise InvalidInput("You have already used this coupon.", field="coupon")
    if coupon.kind == Coupon.Kind.PERCENT:
        discount = Money(price * coupon.value / 100, currency).quantize().amount
    else:
        if coupon.currency != currency:
            raise InvalidInput("This coupon is for another currency.", field="coupon")
        discount = min(coupon.value, price)
    Coupon.objects.filter(pk=coupon.pk).update(redemptions=F("redemptions") + 1)
    return coupon, discount


def coupon_release(*, coupon_id: int) -> None:
    """Give back the redemption of an order that will never be paid (rejected, or cancelled unpaid), so an
    abandoned checkout does not use up a limited promotion (issue 14, item 12)."""
    Coupon.objects.filter(pk=coupon_id, redemptions__gt=0).update(redemptions=F("redemptions") - 1)


def coupon_create(
    *,
    code: str,
    kind: str,
    value: Decimal,
    duration: str,
    staff: User,
    max_redemptions: int | None = None,
    max_per_customer: int | None = None,
    valid_until: dt.datetime | None = None,
    currency: str = "USD",
) -> Any:
    """A promotion for new orders; it never touches running services' prices (TOS-PRICE-1)."""
    code = code.strip().upper()
    if not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput("Use letters, digits, - and _ only.", field="code")
    if kind == Coupon.Kind.PERCENT and not Decimal(0) < value <= Decimal(100):
        raise InvalidInput("A percentage is between 0 and 100.", field="value")
    if value <= 0:
        raise InvalidInput("The value must be positive.", field="value")
    try:
        with transaction.atomic():
            coupon = Coupon.objects.create(
                code=code,
                kind=kind,
                value=value,
                duration=duration,
                currency=currency,
                max_redemptions=max_redemptions,
                max_per_customer=max_per_customer,
                valid_until=valid_until,
            )
            audit_record(
                actor=Actor.for_user(staff),
                action="coupon.create",
                target_type="coupon",
                target_id=code,
                requirement="TOS-PRICE-1",
                data={"kind": kind, "value": str(value), "duration": duration},
            )
    except IntegrityError as error:
        raise InvalidInput("A coupon with this code exists.", field="code") from error
    return coupon


def product_images_set(*, product: Product, codes: list[str], staff: User) -> list[str]:
    """The images ``product`` can run (TOS-OS-1): new orders and reinstalls choose among them. Running
    servers keep the system they run whatever the list says. Returns the codes now listed."""
    images = list(OsImage.objects.filter(code__in=codes))
    if len(images) != len(set(codes)):
        raise InvalidInput("Unknown image.", field="images")
    if not images:
        raise InvalidInput("Choose at least one image the product can run.", field="images")
    before = sorted(product.os_images.values_list("code", flat=True))
    after = sorted(image.code for image in images)
    with transaction.atomic():
        product.os_images.set(images)
        audit_record(
            actor=Actor.for_user(staff),
            action="catalog.product_images",
            target_type="product",
            target_id=product.code,
            requirement="TOS-OS-1",
            data={"before": before, "after": after},
        )
    return after


def image_end_of_life(*, image: OsImage, staff: User, end_of_life: bool = True) -> OsImage:
    """Retire an image from new orders and reinstalls (TOS-OS-1); servers running it keep it."""
    with transaction.atomic():
        OsImage.objects.filter(pk=image.pk).update(end_of_life=end_of_life)
        audit_record(
            actor=Actor.for_user(staff),
            action="catalog.image_end_of_life" if end_of_life else "catalog.image_offered",
            target_type="os_image",
            target_id=image.code,
            requirement="TOS-OS-1",
            data={},
        )
    image.end_of_life = end_of_life
    return image
