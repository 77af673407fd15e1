"""Allocating and releasing addresses (TOS-NET-1)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, NotFound, RuleRefused
from megalayer.network.announcers import announcer
from megalayer.network.errors import NoFreeAddress
from megalayer.network.models import IpAssignment, NullRoute, Prefix, ReverseDns
from megalayer.network.queries import holder_at
from megalayer.terms.queries import policy_at, requirement_check


def _busy(prefix: Prefix, now: dt.datetime) -> set[str]:
    """Addresses held now or still in quarantine."""
    return set(
        IpAssignment.objects.filter(prefix=prefix)
        .filter(Q(released_at__isnull=True) | Q(quarantine_until__gt=now))
        .values_list("address", flat=True)
    )


def ip_allocate(
    *,
    customer: Any,
    location: Any,
    tier: Any,
    service: Any = None,
    family: int = 4,
    prefix_length: int | None = None,
) -> IpAssignment:
    """The first free address of the location's pool for the tier, under the prefix's row lock; with
    ``prefix_length`` (IPv6), the first free prefix of that length instead (a /64 per server, say), the one
    holding the pool's gateway excepted.

    Two allocations on one prefix queue on the lock (PostgreSQL) or the write lock
    (SQLite); the partial unique index stops a second live holder regardless.
    """
    if prefix_length is not None and (family != 6 or not 32 <= prefix_length <= 128):
        raise InvalidInput("Only IPv6 prefixes of /32 to /128 are delegated.", field="prefix_length")
    now = clock.now()
    with transaction.atomic():
        prefixes = (
            Prefix.objects.select_for_update()
            .filter(location=location, tier=tier, family=family, status=Prefix.Status.ACTIVE, role=Prefix.Role.CUSTOMER)
            .order_by("pk")
        )
        for prefix in prefixes:
            busy = _busy(prefix, now)
            for text in _candidates(prefix, prefix_length):
                if text in busy:
                    continue
                try:
                    with transaction.atomic():
                        return IpAssignment.objects.create(
                            prefix=prefix,
                            address=text,
                            prefix_length=prefix_length,
                            service=service,
                            customer=customer,
                            assigned_at=now,
                        )
                except IntegrityError:
                    busy.add(text)  # taken by a writer the lock did not cover: try the next one
    raise NoFreeAddress()


def _candidates(prefix: Prefix, prefix_length: int | None) -> Iterator[str]:
    """The pool's free-to-try addresses, or the network addresses of its sub-prefixes of ``prefix_length``."""
    network = ipaddress.ip_network(prefix.cidr)
    gateway = ipaddress.ip_address(prefix.gateway) if prefix.gateway else None
    if prefix_length is None:
        yield from (str(host) for host in network.hosts() if host != gateway)
        return
    if prefix_length < network.prefixlen:
        return
    for subnet in network.subnets(new_prefix=prefix_length):
        if gateway is not None and gateway in subnet:
            continue
        yield str(subnet.network_address)


def ip_release(*, assignment: IpAssignment) -> IpAssignment:
    """Release an address into quarantine (``network.ip_quarantine_days`` of the Terms in force)."""
    now = clock.now()
    days = policy_at(now).network.ip_quarantine_days
    IpAssignment.objects.filter(pk=assignment.pk, released_at__isnull=True).update(
        released_at=now, quarantine_until=now + dt.timedelta(days=days)
    )
    assignment.refresh_from_db()
    return assignment


def null_route_start(
    *, address: str, reason: str, requirement: str, actor: Actor, case_reference: str = ""
) -> NullRoute:
    """Take one address off the network (TOS-ABUSE-2, TOS-ATTACK-1); announced once the record is committed."""

    requirement_check(requirement)
    text = _address(address)
    if not own_address(text):
        raise InvalidInput(
            f"{text} is not in any of our address pools: only our own addresses can be null-routed.",
            field="address",
        )
    try:
        with transaction.atomic():
            route = NullRoute.objects.create(
                address=text,
                reason=reason,
                requirement=requirement,
                case_reference=case_reference,
                started_at=clock.now(),
            )
            holder = holder_at(text, clock.now())
            audit_record(
                actor=actor,
                action="ip.null_route",
                target_type="ip",
                target_id=text,
                requirement=requirement,
                data={
                    "reason": reason,
                    "case": case_reference,
                    "customer": holder.customer.public_id if holder else None,
                },
            )
            transaction.on_commit(lambda: announcer().announce(text))
    except IntegrityError as error:
        raise RuleRefused(
            f"{text} is already null-routed.", rule="already-null-routed", requirement=requirement
        ) from error
    return route


def null_route_end(*, address: str, actor: Actor, note: str) -> NullRoute:

    text = _address(address)
    with transaction.atomic():
        route = NullRoute.objects.select_for_update().filter(address=text, ended_at__isnull=True).first()
        if route is None:
            raise NotFound(f"{text} is not null-routed.")
        NullRoute.objects.filter(pk=route.pk).update(ended_at=clock.now())
        audit_record(
            actor=actor,
            action="ip.null_route_end",
            target_type="ip",
            target_id=text,
            requirement=route.requirement,
            data={"note": note, "case": route.case_reference},
        )
        transaction.on_commit(lambda: announcer().withdraw(text))
    route.refresh_from_db()
    return route


_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))+\.?$")


def rdns_set(*, customer: Any, address: str, hostname: str, service: Any = None) -> ReverseDns:
    """The customer who holds ``address`` now names it (PTR); anyone else gets a not-found. Any address inside
    a delegated IPv6 prefix can be named (issue 18). With ``service``, the address must be that service's."""
    text = _address(address)
    holder = holder_at(text, clock.now())
    if holder is None or holder.customer_id != customer.pk:
        raise NotFound("No such address on your services.")
    if service is not None and holder.service_id != service.pk:
        raise NotFound("No such address on this service.")
    name = hostname.strip().rstrip(".").lower()
    if not _HOSTNAME.match(name):
        raise InvalidInput("Enter a host name such as mail.example.com.", field="hostname")
    record, _ = ReverseDns.objects.update_or_create(
        address=text, defaults={"hostname": name, "updated_at": clock.now()}
    )
    return record


def own_address(text: str) -> bool:
    """Whether the address lies in one of the provider's prefixes (any role or status): a null route for
    anyone else's address (8.8.8.8) would blackhole it from our network (issue 14, item 11)."""
    address = ipaddress.ip_address(text)
    return any(
        address in ipaddress.ip_network(cidr)
        for cidr in Prefix.objects.filter(family=address.version).values_list("cidr", flat=True)
    )


def _address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError as error:
        raise InvalidInput("Not an IP address.", field="address") from error


def prefix_save(
    *, staff: User, cidr: str, location: Any, tier: Any, role: str = Prefix.Role.CUSTOMER, gateway: str = ""
) -> Prefix:
    """Add a prefix to a location's pool for a network tier (TOS-NET-1). Overlapping prefixes are refused:
    an address must belong to exactly one pool."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=True)
    except ValueError as error:
        raise InvalidInput("Enter a network such as 203.0.113.0/24 or 2001:db8::/48.", field="cidr") from error
    gateway_text = ""
    if gateway.strip():
        gateway_text = _address(gateway)
        if ipaddress.ip_address(gateway_text) not in network:
            raise InvalidInput("The gateway must lie inside the prefix.", field="gateway")
    for other in Prefix.objects.filter(family=network.version):
        if network.overlaps(ipaddress.ip_network(other.cidr)):
            raise InvalidInput(f"Overlaps {other.cidr}.", field="cidr")
    with transaction.atomic():
        prefix = Prefix.objects.create(
            cidr=str(network),
            family=network.version,
            location=location,
            tier=tier,
            role=role,
            gateway=gateway_text or None,
        )
        audit_record(
            actor=Actor.for_user(staff),
            action="ip.prefix_added",
            target_type="prefix",
            target_id=prefix.cidr,
            requirement="TOS-NET-1",
            data={"location": location.code, "tier": tier.code, "role": role, "gateway": gateway_text},
        )
    return prefix
