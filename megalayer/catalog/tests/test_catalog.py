"""The catalog (issue 15: it had no tests): what is for sale, at which price (TOS-PRICE-1), with which images
(TOS-OS-1), and coupons for new orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from megalayer.audit.models import AuditEvent
from megalayer.catalog.actions import coupon_create, coupon_redeem, coupon_release, price_version_add
from megalayer.catalog.models import Coupon, Location, NetworkTier, OsImage, PriceVersion
from megalayer.catalog.queries import images_for_new_orders, price_at, products_for_sale
from megalayer.catalog.seed import IMAGES, LOCATIONS, TIERS, ensure_catalog_seed
from megalayer.catalog.tests.factories import coupon as make_coupon
from megalayer.catalog.tests.factories import price as make_price
from megalayer.catalog.tests.factories import product as make_product
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 1, 4, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _pinned_clock():
    ensure_catalog_seed()
    with clock.travel(NOW):
        yield


def test_the_seed_is_idempotent_and_complete():
    ensure_catalog_seed()
    ensure_catalog_seed()
    assert Location.objects.count() == len(LOCATIONS)
    assert NetworkTier.objects.count() == len(TIERS)
    assert OsImage.objects.count() == len(IMAGES)
    assert list(NetworkTier.objects.values_list("code", flat=True)) == ["premium", "standard", "international"]


def test_products_for_sale_are_the_active_ones_filtered_by_location_tier_and_kind():
    hkg_premium = make_product()
    sin_standard = make_product(
        location=Location.objects.get(code="sin"), tier=NetworkTier.objects.get(code="standard")
    )
    make_product(is_active=False)
    assert set(products_for_sale()) == {hkg_premium, sin_standard}
    assert list(products_for_sale(location="sin")) == [sin_standard]
    assert list(products_for_sale(tier="premium")) == [hkg_premium]
    assert list(products_for_sale(kind="dedicated")) == []


def test_the_price_in_force_is_the_latest_that_has_started():
    old = make_price(amount=Decimal("10.00"))
    product = old.product
    newer = make_price(product=product, amount=Decimal("12.00"), effective_at=NOW - dt.timedelta(days=1))
    make_price(product=product, amount=Decimal("15.00"), effective_at=NOW + dt.timedelta(days=1))
    assert price_at(product, "monthly") == newer
    assert price_at(product, "monthly", NOW - dt.timedelta(days=2)) == old
    assert price_at(product, "monthly", NOW + dt.timedelta(days=1)).amount == Decimal("15.00")


def test_a_cycle_without_a_price_is_refused_naming_the_field():
    product = make_price().product
    with pytest.raises(RuleRefused) as refused:
        price_at(product, "annual")
    assert (refused.value.field, refused.value.requirement) == ("cycle", "TOS-PRICE-1")
    assert refused.value.detail == f"{product.name} is not sold with a annual cycle."


def test_a_new_price_starts_now_or_later_and_is_audited(staff):
    product = make_price().product
    price = price_version_add(
        product=product, cycle="monthly", amount=Decimal("11.00"), effective_at=NOW + dt.timedelta(days=30), staff=staff
    )
    assert (price.amount, price.currency, price.effective_at) == (Decimal("11.00"), "USD", NOW + dt.timedelta(days=30))
    event = AuditEvent.objects.get(action="price.add")
    assert (event.target_id, event.requirement, event.data["amount"]) == (product.code, "TOS-PRICE-1", "11.00")
    assert price_at(product, "monthly").amount == Decimal("10.00")  # running prices are untouched until then


@pytest.mark.parametrize(
    ("amount", "start", "field", "message"),
    [
        ("11.00", NOW - dt.timedelta(hours=1), "effective_at", "A price cannot start in the past."),
        ("-1.00", NOW + dt.timedelta(days=1), "amount", "The price cannot be negative."),
        ("11.00", NOW + dt.timedelta(days=3), "effective_at", "A price for this cycle already starts at that time."),
    ],
)
def test_a_refused_price_names_its_field_and_writes_nothing(staff, amount, start, field, message):
    product = make_price().product
    make_price(product=product, effective_at=NOW + dt.timedelta(days=3))  # a version already set to start
    before = (PriceVersion.objects.count(), AuditEvent.objects.count())
    with pytest.raises(InvalidInput) as refused:
        price_version_add(product=product, cycle="monthly", amount=Decimal(amount), effective_at=start, staff=staff)
    assert (refused.value.field, refused.value.detail) == (field, message)
    assert (PriceVersion.objects.count(), AuditEvent.objects.count()) == before


def test_end_of_life_images_are_not_offered_to_new_orders():
    product = make_product()
    product.os_images.set(OsImage.objects.filter(code__in=["debian-12", "centos-7", "windows-2008"]))
    assert list(images_for_new_orders(product).values_list("code", flat=True)) == ["debian-12"]


def test_a_percent_coupon_rounds_to_the_cent_and_counts_one_redemption():
    product = make_product()
    coupon = make_coupon(code="SPRING", value=Decimal("15"))
    taken, discount = coupon_redeem(code=" spring ", product=product, price=Decimal("9.99"), currency="USD")
    assert (taken, discount) == (coupon, Decimal("1.50"))
    coupon.refresh_from_db()
    assert coupon.redemptions == 1
    coupon_release(coupon_id=coupon.pk)
    coupon_release(coupon_id=coupon.pk)  # never below zero
    coupon.refresh_from_db()
    assert coupon.redemptions == 0


def test_a_fixed_coupon_never_takes_more_than_the_price():
    product = make_product()
    make_coupon(code="TENOFF", kind=Coupon.Kind.FIXED, value=Decimal("10.00"))
    assert coupon_redeem(code="TENOFF", product=product, price=Decimal("4.00"), currency="USD")[1] == Decimal("4.00")


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        ({"valid_until": NOW - dt.timedelta(seconds=1)}, {}, "This coupon has expired."),
        ({"is_active": False}, {}, "This coupon code does not exist."),
        ({"max_redemptions": 2, "redemptions": 2}, {}, "This coupon has been used up."),
        ({"max_per_customer": 1}, {"customer_uses": 1}, "You have already used this coupon."),
        (
            {"kind": Coupon.Kind.FIXED, "value": Decimal("5"), "currency": "EUR"},
            {},
            "This coupon is for another currency.",
        ),
    ],
)
def test_a_coupon_that_does_not_apply_is_refused_and_not_counted(setup, kwargs, message):
    product = make_product()
    coupon = make_coupon(code="PROMO", **setup)
    before = coupon.redemptions
    with pytest.raises(InvalidInput) as refused:
        coupon_redeem(code="PROMO", product=product, price=Decimal("10.00"), currency="USD", **kwargs)
    assert (refused.value.field, refused.value.detail) == ("coupon", message)
    coupon.refresh_from_db()
    assert coupon.redemptions == before


def test_a_coupon_for_other_products_is_refused():
    wanted, other = make_product(), make_product()
    make_coupon(code="ONLYOTHER").products.set([other])
    with pytest.raises(InvalidInput, match="does not apply to this product"):
        coupon_redeem(code="ONLYOTHER", product=wanted, price=Decimal("10.00"), currency="USD")


def test_coupon_codes_are_upper_case_unique_and_validated(staff):
    coupon = coupon_create(
        code="welcome-1", kind=Coupon.Kind.PERCENT, value=Decimal("20"), duration="first_term", staff=staff
    )
    assert coupon.code == "WELCOME-1"
    assert AuditEvent.objects.filter(action="coupon.create", target_id="WELCOME-1").count() == 1
    refusals: list[tuple[dict[str, Any], str, str]] = [
        ({"code": "WELCOME-1"}, "code", "A coupon with this code exists."),
        ({"code": "no spaces"}, "code", "Use letters, digits, - and _ only."),
        ({"code": "BIG", "value": Decimal("120")}, "value", "A percentage is between 0 and 100."),
        ({"code": "ZERO", "kind": Coupon.Kind.FIXED, "value": Decimal("0")}, "value", "The value must be positive."),
    ]
    for change, field, message in refusals:
        arguments: dict[str, Any] = {"kind": Coupon.Kind.PERCENT, "value": Decimal("20"), "duration": "first_term"}
        with pytest.raises(InvalidInput) as refused:
            coupon_create(staff=staff, **(arguments | change))
        assert (refused.value.field, refused.value.detail) == (field, message)
    assert Coupon.objects.count() == 1
