"""Reads of IP management: who held an address when, and how full each prefix is."""

from __future__ import annotations

import datetime as dt
import ipaddress

from django.db.models import Q, QuerySet

from megalayer.catalog.models import Location, NetworkTier
from megalayer.network.models import IpAssignment, NullRoute, Prefix


def holder_at(address: str, moment: dt.datetime) -> IpAssignment | None:
    """The assignment of ``address`` at ``moment`` (abuse complaints name a past time): the address itself,
    or, for IPv6, the delegated prefix it lies in (the most specific one, should prefixes of several lengths
    ever have been delegated)."""
    ip = ipaddress.ip_address(address)
    at = Q(assigned_at__lte=moment) & (Q(released_at__isnull=True) | Q(released_at__gt=moment))
    rows = IpAssignment.objects.filter(at).select_related("customer__owner", "service")
    exact = rows.filter(address=str(ip)).order_by("-prefix_length").first()
    if exact is not None or ip.version == 4:
        return exact
    delegated = IpAssignment.objects.filter(prefix_length__isnull=False).values_list("prefix_length", flat=True)
    lengths = sorted({length for length in delegated if length is not None}, reverse=True)
    for length in lengths:
        network = ipaddress.ip_network(f"{ip}/{length}", strict=False)
        found = rows.filter(address=str(network.network_address), prefix_length=length).first()
        if found is not None:
            return found
    return None


def prefix_utilisation(prefix: Prefix) -> tuple[int, int]:
    """(addresses held now, usable addresses)."""
    network = ipaddress.ip_network(prefix.cidr)
    usable = network.num_addresses - (2 if network.version == 4 and network.prefixlen < 31 else 0)
    usable -= 1 if prefix.gateway else 0
    held = IpAssignment.objects.filter(prefix=prefix, released_at__isnull=True).count()
    return held, usable


def prefixes_for_staff() -> QuerySet[Prefix]:
    return Prefix.objects.select_related("location", "tier").order_by(
        "location__code", "tier__sort_order", "family", "cidr"
    )


def address_history(address: str, limit: int = 20) -> QuerySet[IpAssignment]:
    """Who held ``address``, newest first (TOS-ABUSE-1: complaints are matched against this)."""
    return IpAssignment.objects.filter(address=address).select_related("customer__owner", "service")[:limit]


def null_routes_active() -> QuerySet[NullRoute]:
    return NullRoute.objects.filter(ended_at__isnull=True)


def null_routes_ended(limit: int = 50) -> QuerySet[NullRoute]:
    return NullRoute.objects.filter(ended_at__isnull=False)[:limit]


def null_routes(*, include_ended: bool = False) -> QuerySet[NullRoute]:
    return NullRoute.objects.all() if include_ended else null_routes_active()


def ipv6_pool_exists(location: Location, tier: NetworkTier) -> bool:
    """Whether the location has an active IPv6 customer pool for the tier (issue 18: servers get a prefix)."""
    return Prefix.objects.filter(
        location=location, tier=tier, family=6, status=Prefix.Status.ACTIVE, role=Prefix.Role.CUSTOMER
    ).exists()
