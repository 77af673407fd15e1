"""Allocating and releasing addresses (TOS-NET-1)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from megalayer.core import clock
from megalayer.network.errors import NoFreeAddress
from megalayer.network.models import IpAssignment, Prefix
from megalayer.terms.queries import policy_at


def _busy(prefix: Prefix, now: dt.datetime) -> set[str]:
    """Addresses held now or still in quarantine."""
    return set(
        IpAssignment.objects.filter(prefix=prefix)
        .filter(Q(released_at__isnull=True) | Q(quarantine_until__gt=now))
        .values_list("address", flat=True)
    )


def ip_allocate(*, customer: Any, location: Any, tier: Any, service: Any = None, family: int = 4) -> IpAssignment:
    """The first free address of the location's pool for the tier, under the prefix's row lock.

    Two allocations on one prefix queue on the lock (PostgreSQL) or the write lock
    (SQLite); the partial unique index stops a second live holder regardless.
    """
    now = clock.now()
    with transaction.atomic():
        prefixes = (
            Prefix.objects.select_for_update()
            .filter(location=location, tier=tier, family=family, status=Prefix.Status.ACTIVE, role=Prefix.Role.CUSTOMER)
            .order_by("pk")
        )
        for prefix in prefixes:
            busy = _busy(prefix, now)
            network = ipaddress.ip_network(prefix.cidr)
            for host in network.hosts():
                text = str(host)
                if text in busy or text == prefix.gateway:
                    continue
                try:
                    with transaction.atomic():
                        return IpAssignment.objects.create(
                            prefix=prefix, address=text, service=service, customer=customer, assigned_at=now
                        )
                except IntegrityError:
                    busy.add(text)  # taken by a writer the lock did not cover: try the next one
    raise NoFreeAddress()


def ip_release(*, assignment: IpAssignment) -> IpAssignment:
    """Release an address into quarantine (``network.ip_quarantine_days`` of the Terms in force)."""
    now = clock.now()
    days = policy_at(now).network.ip_quarantine_days
    IpAssignment.objects.filter(pk=assignment.pk, released_at__isnull=True).update(
        released_at=now, quarantine_until=now + dt.timedelta(days=days)
    )
    assignment.refresh_from_db()
    return assignment
