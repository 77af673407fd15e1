"""Reads of the catalog: what can be ordered, and at which price."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from megalayer.catalog.models import Coupon, IsoImage, Location, NetworkTier, OsImage, PriceVersion, Product
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


def prices_in_force(product: Product, now: dt.datetime) -> dict[str, PriceVersion]:
    """The price of each billing cycle in force at ``now`` (the latest version effective by then)."""
    prices: dict[str, PriceVersion] = {}
    for price in PriceVersion.objects.filter(product=product, effective_at__lte=now).order_by("effective_at"):
        prices[price.cycle] = price
    return prices


def monthly_prices_in_force(products: list[Product], now: dt.datetime) -> dict[int, PriceVersion]:
    """Each product's monthly price in force at ``now``, by product id (one query for a whole list)."""
    prices: dict[int, PriceVersion] = {}
    rows = PriceVersion.objects.filter(product__in=products, cycle="monthly", effective_at__lte=now)
    for price in rows.order_by("effective_at", "id"):
        prices[price.product_id] = price
    return prices


def images_available() -> QuerySet[OsImage]:
    """Images offered for new orders and reinstalls (end-of-life images stay only on running services)."""
    return OsImage.objects.filter(end_of_life=False)


def image_by_code(code: str) -> OsImage | None:
    return OsImage.objects.filter(code=code).first() if code else None


def location_by_code(code: str) -> Location | None:
    return Location.objects.filter(code=code).first() if code else None


def tier_by_code(code: str) -> NetworkTier | None:
    return NetworkTier.objects.filter(code=code).first() if code else None


def no_images() -> QuerySet[OsImage]:
    """An empty choice list for a form field filled per product."""
    return OsImage.objects.none()


def all_images() -> QuerySet[OsImage]:
    """Every image, offered or end-of-life, for staff managing the catalog."""
    return OsImage.objects.order_by("end_of_life", "family", "name")


def isos_offered() -> QuerySet[IsoImage]:
    """The installer ISOs customers may mount (issue 18), by name."""
    return IsoImage.objects.filter(enabled=True).order_by("name")
