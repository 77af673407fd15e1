"""Reads of the catalog: what can be ordered, and at which price."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from megalayer.catalog.models import Coupon, Location, NetworkTier, OsImage, PriceVersion, Product
from megalayer.core import clock
from megalayer.core.errors import RuleRefused


def products_for_sale(*, location: str = "", tier: str = "", kind: str = "") -> QuerySet[Product]:
    products = Product.objects.filter(is_active=True).select_related("location", "tier")
    if location:
        products = products.filter(location__code=location)
    if tier:
        products = products.filter(tier__code=tier)
    if kind:
        products = products.filter(kind=kind)
    return products


def price_at(product: Product, cycle: str, moment: dt.datetime | None = None) -> PriceVersion:
    """The price in force for new orders at ``moment`` (TOS-PRICE-1)."""
    price = (
        PriceVersion.objects.filter(product=product, cycle=cycle, effective_at__lte=moment or clock.now())
        .order_by("-effective_at")
        .first()
    )
    if price is None:
        raise RuleRefused(
            f"{product.name} is not sold with a {cycle} cycle.",
            rule="no-price",
            requirement="TOS-PRICE-1",
            field="cycle",
        )
    return price


def images_for_new_orders(product: Product) -> QuerySet[OsImage]:
    return product.os_images.filter(end_of_life=False)


def products_for_staff() -> QuerySet[Product]:
    return Product.objects.select_related("location", "tier").annotate(service_count=Count("services"))


def product_by_code(code: str) -> Product | None:
    return Product.objects.filter(code=code).first()


def prices_of(product: Product) -> QuerySet[PriceVersion]:
    return PriceVersion.objects.filter(product=product)


def coupons_for_staff() -> QuerySet[Coupon]:
    return Coupon.objects.order_by("-id")


def locations() -> QuerySet[Location]:
    return Location.objects.all()


def network_tiers() -> QuerySet[NetworkTier]:
    return NetworkTier.objects.all()
