from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import pytest

from megalayer.catalog.models import Location, NetworkTier
from megalayer.conftest import make_customer, seed_catalog
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.network.actions import ip_allocate, ip_release
from megalayer.network.errors import NoFreeAddress
from megalayer.network.models import IpAssignment, Prefix
from megalayer.network.queries import holder_at, prefix_utilisation
from megalayer.testing_parallel import run_in_parallel, skip_unless_threads_share_the_database

T0 = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)


def _prefix(cidr: str = "203.0.113.0/26") -> Prefix:
    seed_catalog()
    return Prefix.objects.create(
        cidr=cidr,
        family=4,
        location=Location.objects.get(code="hkg"),
        tier=NetworkTier.objects.get(code="premium"),
        gateway="203.0.113.1",
    )


def _address_for(customer: Any) -> str:
    return ip_allocate(customer=customer, **_where()).address


def _where() -> dict[str, Any]:
    return {"location": Location.objects.get(code="hkg"), "tier": NetworkTier.objects.get(code="premium")}


@pytest.mark.django_db
def test_who_held_an_address_at_a_past_moment(terms_v1):
    _prefix("203.0.113.0/29")  # hosts .1 to .6; .1 is the gateway
    first, second = make_customer("first@example.com"), make_customer("second@example.com")
    with clock.travel(T0):
        held = [ip_allocate(customer=first, **_where()) for _ in range(5)]
    sixth = next(a for a in held if a.address == "203.0.113.6")
    assert [a.address for a in held] == ["203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5", "203.0.113.6"]
    with clock.travel(T0 + dt.timedelta(days=10)):
        ip_release(assignment=sixth)
    with clock.travel(T0 + dt.timedelta(days=41)):  # after the 30-day quarantine
        moved = ip_allocate(customer=second, **_where())
    assert moved.address == "203.0.113.6"
    assert _holder("203.0.113.6", T0 + dt.timedelta(days=5)) == first
    assert holder_at("203.0.113.6", T0 + dt.timedelta(days=20)) is None
    assert _holder("203.0.113.6", T0 + dt.timedelta(days=50)) == second
    assert holder_at("203.0.113.6", T0 - dt.timedelta(days=1)) is None


@pytest.mark.django_db
def test_a_released_address_waits_out_its_quarantine(terms_v1):
    _prefix("203.0.113.0/30")  # one usable host besides the gateway: .2
    customer = make_customer("q@example.com")
    with clock.travel(T0):
        only = ip_allocate(customer=customer, **_where())
        ip_release(assignment=only)
    with clock.travel(T0 + dt.timedelta(days=29, hours=23)), pytest.raises(NoFreeAddress):
        ip_allocate(customer=customer, **_where())
    with clock.travel(T0 + dt.timedelta(days=30, minutes=1)):
        assert ip_allocate(customer=customer, **_where()).address == "203.0.113.2"
    assert prefix_utilisation(Prefix.objects.get()) == (1, 1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_orders_on_forty_free_addresses(terms_v1):
    skip_unless_threads_share_the_database()
    prefix = _prefix()  # 62 hosts, .1 is the gateway: 61 allocatable
    holder = make_customer("holder@example.com")
    for _ in range(21):
        ip_allocate(customer=holder, **_where())
    customers = [make_customer(f"p{index}@example.com") for index in range(50)]
    results = run_in_parallel([partial(_address_for, customer) for customer in customers])
    outcomes = ["refused" if isinstance(result, NoFreeAddress) else str(result) for result in results]
    addresses = [outcome for outcome in outcomes if outcome != "refused"]
    assert len(addresses) == 40
    assert len(set(addresses)) == 40
    assert outcomes.count("refused") == 10
    live = list(IpAssignment.objects.filter(prefix=prefix, released_at__isnull=True).values_list("address", flat=True))
    assert len(live) == len(set(live)) == 61


def _holder(address: str, moment: dt.datetime) -> Any:
    found = holder_at(address, moment)
    return found.customer if found is not None else None


@pytest.mark.django_db
def test_ipv6_prefixes_are_delegated_and_any_address_inside_answers_who_held_it(terms_v1):
    """Issue 18: a /64 per server from the tier's IPv6 pool; "who held 2001:db8:4a2:1:…:5 at T" names the
    holder of the /64 it lies in, before and after the prefix changed hands; quarantine applies as for IPv4."""
    seed_catalog()
    Prefix.objects.create(cidr="2001:db8:4a2::/62", family=6, gateway="2001:db8:4a2::1", **_where())
    first, second = make_customer("first@example.com"), make_customer("second@example.com")
    with clock.travel(T0):
        a = ip_allocate(customer=first, family=6, prefix_length=64, **_where())
        b = ip_allocate(customer=second, family=6, prefix_length=64, **_where())
    # The gateway's /64 is kept back; then the /64s in order.
    assert [(a.address, a.prefix_length), (b.address, b.prefix_length)] == [
        ("2001:db8:4a2:1::", 64),
        ("2001:db8:4a2:2::", 64),
    ]
    inside_a = "2001:db8:4a2:1:abcd:ef01:2345:6789"
    with clock.travel(T0 + dt.timedelta(days=1)):
        assert _holder(inside_a, clock.now()) == first
        assert _holder("2001:db8:4a2:2::5", clock.now()) == second
        assert holder_at("2001:db8:4a2::1", clock.now()) is None  # the gateway's /64 is nobody's
        assert holder_at("2001:db8:4a2:3::1", clock.now()) is None  # not delegated
        ip_release(assignment=a)
        third = ip_allocate(customer=make_customer("third@example.com"), family=6, prefix_length=64, **_where())
    assert third.address == "2001:db8:4a2:3::"  # first's /64 is in quarantine
    with clock.travel(T0 + dt.timedelta(days=40)):
        again = ip_allocate(customer=second, family=6, prefix_length=64, **_where())
    assert again.address == "2001:db8:4a2:1::"  # reused after the quarantine, by someone else
    assert _holder(inside_a, T0 + dt.timedelta(hours=12)) == first  # at the time of the complaint
    assert holder_at(inside_a, T0 + dt.timedelta(days=20)) is None  # in quarantine: nobody's
    assert _holder(inside_a, T0 + dt.timedelta(days=41)) == second
    with clock.travel(T0 + dt.timedelta(days=41)), pytest.raises(NoFreeAddress):
        ip_allocate(customer=second, family=6, prefix_length=64, **_where())
    with pytest.raises(InvalidInput):
        ip_allocate(customer=second, family=4, prefix_length=64, **_where())


@pytest.mark.django_db
def test_an_address_inside_a_delegated_ipv6_prefix_is_null_routed_and_attributed(
    terms_v1, django_capture_on_commit_callbacks
):
    """Issue 18: null routes work for IPv6 as for IPv4: one /128 inside a customer's /64 is taken off the
    network (announced once committed) and the audit names the customer who held it then."""
    from megalayer.audit.actions import Actor
    from megalayer.audit.models import AuditEvent
    from megalayer.network.actions import null_route_start
    from megalayer.network.models import NullRoute

    seed_catalog()
    Prefix.objects.create(cidr="2001:db8:4a2::/62", family=6, gateway="2001:db8:4a2::1", **_where())
    holder = make_customer("holder@example.com")
    with clock.travel(T0):
        ip_allocate(customer=holder, family=6, prefix_length=64, **_where())
    with clock.travel(T0 + dt.timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
        route = null_route_start(
            address="2001:DB8:4A2:1::BAD", reason="attack", requirement="TOS-ATTACK-1", actor=Actor.system("t")
        )
    assert route.address == "2001:db8:4a2:1::bad"
    event = AuditEvent.objects.get(action="ip.null_route")
    assert (event.target_id, event.data["customer"]) == ("2001:db8:4a2:1::bad", holder.public_id)
    with pytest.raises(InvalidInput, match="not in any of our address pools"):
        null_route_start(
            address="2001:db8:ffff::1", reason="attack", requirement="TOS-ATTACK-1", actor=Actor.system("t")
        )
    assert NullRoute.objects.count() == 1
