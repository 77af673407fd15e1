"""Sign-up country from the packaged GeoLite2 table, and the fraud check that compares it with the billing
country (TOS-FRAUD-1). Real lookups: no network, no mock."""

from __future__ import annotations

import pytest

from megalayer.accounts.actions import customer_create
from megalayer.accounts.geo import country_of
from megalayer.accounts.models import User
from megalayer.audit.actions import Actor
from megalayer.orders.actions import order_place
from megalayer.orders.fraud import assess
from megalayer.services.tests.conftest import with_billing


@pytest.mark.parametrize(
    ("address", "country"),
    [
        ("8.8.8.8", "US"),
        ("81.2.69.160", "GB"),  # MaxMind's own test address
        ("202.181.1.1", "HK"),
        ("2001:4860:4860::8888", "US"),
        ("127.0.0.1", ""),
        ("10.1.2.3", ""),
        ("203.0.113.7", ""),  # documentation range: not global
        ("not an address", ""),
        (None, ""),
    ],
)
def test_country_of(address, country):
    assert country_of(address) == country


@pytest.mark.django_db
def test_a_sign_up_country_other_than_the_billing_country_adds_to_the_score(vps):
    abroad = customer_create(user=User.objects.create_user("far@example.com", None), signup_ip="8.8.8.8")
    at_home = customer_create(user=User.objects.create_user("near@example.com", None), signup_ip="202.181.1.1")
    assert (abroad.signup_country, at_home.signup_country) == ("US", "HK")
    results = []
    for customer in (abroad, at_home):
        with_billing(customer)  # billed in HK
        order = order_place(customer=customer, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
        results.append(assess(order).reasons)
    assert results == [["+20 sign-up from US, billed in HK"], []]
