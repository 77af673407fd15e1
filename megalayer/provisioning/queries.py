"""Reads of provisioning: a server as the client area shows it, its traffic by day, operations to watch."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from megalayer.core import clock
from megalayer.provisioning.models import Operation, Server, TrafficSample
from megalayer.services.models import Service


@dataclass(frozen=True, slots=True)
class Address:
    address: str
    family: int
    reverse_dns: str


@dataclass(frozen=True, slots=True)
class ServerView:
    server: Server
    addresses: list[Address]
    capabilities: frozenset[str]
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    @property
    def supports_snapshots(self) -> bool:
        return "snapshots" in self.capabilities


def server_of(service: Service) -> Server | None:
    return Server.objects.select_related("host").filter(service=service, destroyed_at__isnull=True).first()


def server_view(service: Service) -> ServerView | None:
    from megalayer.network.models import IpAssignment, ReverseDns
    from megalayer.provisioning.actions import host_driver_loaded

    server = server_of(service)
    if server is None:
        return None
    held = list(
        IpAssignment.objects.filter(service=service, released_at__isnull=True)
        .select_related("prefix")
        .order_by("prefix__family", "pk")
    )
    names = dict(ReverseDns.objects.filter(address__in=[a.address for a in held]).values_list("address", "hostname"))
    driver, _ = host_driver_loaded(server.host)
    capabilities = frozenset(c.value for c in driver.capabilities) if driver else frozenset()
    return ServerView(
        server=server,
        addresses=[Address(a.address, a.prefix.family, names.get(a.address, "")) for a in held],
        capabilities=capabilities,
        snapshots=list(server.snapshots),
    )


def operations_of(service: Service) -> QuerySet[Operation]:
    return Operation.objects.filter(service=service).order_by("-created_at", "-id")


@dataclass(frozen=True, slots=True)
class TrafficDay:
    day: dt.date
    rx_bytes: int
    tx_bytes: int


def traffic_this_month(server: Server) -> list[TrafficDay]:
    """Bytes in and out per day of the current calendar month (provider's zone), from the counter samples.

    Counters only grow, except when a machine's interface is recreated (reboot on
    some hypervisors, reinstall): a counter that went down restarts from zero.
    """
    zone = clock.provider_zone()
    today = clock.provider_today()
    start = dt.datetime(today.year, today.month, 1, tzinfo=zone)
    samples = list(TrafficSample.objects.filter(server=server, at__gte=start - dt.timedelta(hours=2)).order_by("at"))
    days: dict[dt.date, list[int]] = {today.replace(day=d): [0, 0] for d in range(1, today.day + 1)}
    for previous, current in itertools.pairwise(samples):
        day = current.at.astimezone(zone).date()
        if day not in days:
            continue
        rx = current.rx_bytes - previous.rx_bytes
        tx = current.tx_bytes - previous.tx_bytes
        days[day][0] += rx if rx >= 0 else current.rx_bytes
        days[day][1] += tx if tx >= 0 else current.tx_bytes
    return [TrafficDay(day, rx, tx) for day, (rx, tx) in sorted(days.items())]
