import datetime as dt
from decimal import Decimal

import pytest

from megalayer.accounts.actions import BillingData, billing_profile_update
from megalayer.accounts.models import Customer
from megalayer.catalog.models import Location, NetworkTier, OsImage, PriceVersion, Product
from megalayer.core import clock


def seed_catalog() -> None:
    """The seed migration's rows; a transactional test elsewhere on this worker may have flushed them."""
    import importlib

    from django.apps import apps

    importlib.import_module("megalayer.catalog.migrations.0002_seed_locations_tiers_images").seed(apps, None)


@pytest.fixture
def vps(db) -> Product:
    seed_catalog()
    product = Product.objects.create(
        code="vps-hkg-premium-2g",
        name="VPS Premium 2G",
        kind="vps",
        location=Location.objects.get(code="hkg"),
        tier=NetworkTier.objects.get(code="premium"),
        cpu_cores=2,
        memory_gb=2,
        disk_gb=40,
        bandwidth_tb=Decimal("1"),
    )
    product.os_images.set(OsImage.objects.all())
    PriceVersion.objects.create(
        product=product,
        cycle="monthly",
        amount=Decimal("10.00"),
        currency="USD",
        effective_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        created_at=clock.now(),
    )
    return product


def with_billing(customer: Customer) -> Customer:
    billing_profile_update(
        customer=customer, data=BillingData(name="Alice", address_line1="1 Road", city="Hong Kong", country="HK")
    )
    return customer
