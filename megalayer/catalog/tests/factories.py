"""factory_boy factories for the catalog: a product, its prices, a coupon, in one line each."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

import factory
from factory.declarations import LazyFunction, Sequence, SubFactory

from megalayer.catalog.models import Coupon, Location, NetworkTier, PriceVersion, Product
from megalayer.core import clock

LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


class ProductFactory(factory.django.DjangoModelFactory):  # type: ignore[type-arg]
    class Meta:
        model = Product

    code = Sequence(lambda n: f"vps-test-{n}")
    name = Sequence(lambda n: f"Test VPS {n}")
    kind = Product.Kind.VPS
    location = LazyFunction(lambda: Location.objects.get(code="hkg"))
    tier = LazyFunction(lambda: NetworkTier.objects.get(code="premium"))
    cpu_cores = 2
    memory_gb = 2
    disk_gb = 40
    bandwidth_tb = Decimal("1.0")


class PriceVersionFactory(factory.django.DjangoModelFactory):  # type: ignore[type-arg]
    class Meta:
        model = PriceVersion

    product = SubFactory(ProductFactory)
    cycle = "monthly"
    amount = Decimal("10.00")
    currency = "USD"
    effective_at = LONG_AGO
    created_at = LazyFunction(clock.now)


class CouponFactory(factory.django.DjangoModelFactory):  # type: ignore[type-arg]
    class Meta:
        model = Coupon

    code = Sequence(lambda n: f"SAVE{n}")
    kind = Coupon.Kind.PERCENT
    value = Decimal("10")


def product(**fields: Any) -> Product:
    return cast(Product, ProductFactory(**fields))


def price(**fields: Any) -> PriceVersion:
    return cast(PriceVersion, PriceVersionFactory(**fields))


def coupon(**fields: Any) -> Coupon:
    return cast(Coupon, CouponFactory(**fields))
