"""Reads of provisioning: a server as the client area shows it, its traffic by day, operations to watch."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from megalayer.core import clock
from megalayer.network.models import IpAssignment, ReverseDns
from megalayer.provisioning.actions.hosts import host_driver_loaded
from megalayer.provisioning.drivers.base import Capability
from megalayer.provisioning.models import (
    Host,
    Machine,
    MachineWait,
    Operation,
    Server,
    SnapshotSchedule,
    TrafficSample,
)
from megalayer.services.models import Service


@dataclass(frozen=True, slots=True)
class Address:
    address: str
    family: int
    reverse_dns: str
    prefix_length: int | None = None  # a delegated IPv6 prefix: ``address`` is its network address


@dataclass(frozen=True, slots=True)
class ServerView:
    server: Server
    addresses: list[Address]
    capabilities: frozenset[str]
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    @property
    def supports_snapshots(self) -> bool:
        return "snapshots" in self.capabilities


def location_offers(location: Any, capability: str) -> bool:
    """Whether some active host of the location can do ``capability`` (the order page offers it then)."""
    for host in Host.objects.filter(location=location, status=Host.Status.ACTIVE):
        driver, _ = host_driver_loaded(host)
        if driver is not None and driver.supports(Capability(capability)):
            return True
    return False


def server_of(service: Service) -> Server | None:
    return Server.objects.select_related("host").filter(service=service, destroyed_at__isnull=True).first()


def server_view(service: Service) -> ServerView | None:

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
        addresses=[Address(a.address, a.prefix.family, names.get(a.address, ""), a.prefix_length) for a in held],
        capabilities=capabilities,
        snapshots=list(server.snapshots),
    )


def operations_of(service: Service) -> QuerySet[Operation]:
    return Operation.objects.filter(service=service).order_by("-created_at", "-id")


@dataclass(frozen=True, slots=True)
class TrafficDay:
    """One day's bytes. ``estimated``: part of them came from a sampling gap and were spread over the days
    the gap covers (the chart marks such days), because the counters cannot say when in the gap they grew."""

    day: dt.date
    rx_bytes: int
    tx_bytes: int
    estimated: bool = False


# The sampler runs hourly (config/schedule.py); an interval longer than this is a gap in the samples.
SAMPLING_GAP = dt.timedelta(hours=3)


def growth(before: int, after: int) -> int:
    """Counters only grow, except when a machine's interface is recreated (reboot on some hypervisors,
    reinstall): a counter that went down restarts from zero, so all of ``after`` is new traffic."""
    return after - before if after >= before else after


def spread(growth: int, start: dt.datetime, end: dt.datetime, cuts: list[dt.datetime]) -> list[int]:
    """Split ``growth`` bytes of the interval [start, end] at the instants ``cuts`` (inside it, in order)
    in proportion to time. Rounded cumulatively in whole microseconds, so the parts add up exactly."""
    span = (end - start) // dt.timedelta(microseconds=1)
    shares, given = [], 0
    for cut in [*cuts, end]:
        elapsed = (cut - start) // dt.timedelta(microseconds=1)
        upto = growth * elapsed // span
        shares.append(upto - given)
        given = upto
    return shares


def traffic_this_month(server: Server) -> list[TrafficDay]:
    """Bytes in and out per day of the current calendar month (provider's zone), up to today."""
    today = clock.provider_today()
    return traffic_days(server, today.replace(day=1), today)


def traffic_days(server: Server, first: dt.date, last: dt.date) -> list[TrafficDay]:
    """Bytes in and out per day from ``first`` to ``last`` (provider's zone), from the counter samples.

    A day's traffic is the counter growth attributed to it: each interval between two samples gives its
    growth to the days it covers in proportion to time, with the last sample before the month (however
    old) as the baseline. So a sampler that missed hours or days, even across the month's start, loses
    nothing: a gap's growth is spread over the days it covers and those days are marked ``estimated``.
    """
    zone = clock.provider_zone()
    start = dt.datetime(first.year, first.month, first.day, tzinfo=zone)
    after = last + dt.timedelta(days=1)
    end = dt.datetime(after.year, after.month, after.day, tzinfo=zone)
    baseline = TrafficSample.objects.filter(server=server, at__lt=start).order_by("-at").first()
    samples = list(TrafficSample.objects.filter(server=server, at__gte=start, at__lt=end).order_by("at"))
    tail = TrafficSample.objects.filter(server=server, at__gte=end).order_by("at").first()  # the last day's end
    samples = [*([baseline] if baseline is not None else []), *samples, *([tail] if tail is not None else [])]
    month_days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    midnights = [dt.datetime(d.year, d.month, d.day, tzinfo=zone) for d in [*month_days, after]]
    totals: dict[dt.date, list[int]] = {d: [0, 0] for d in month_days}
    estimated: set[dt.date] = set()
    for previous, current in itertools.pairwise(samples):
        cuts = [m for m in midnights if previous.at < m < current.at]
        days = [previous.at.astimezone(zone).date()] + [m.date() for m in cuts]
        rx = spread(growth(previous.rx_bytes, current.rx_bytes), previous.at, current.at, cuts)
        tx = spread(growth(previous.tx_bytes, current.tx_bytes), previous.at, current.at, cuts)
        gap = current.at - previous.at > SAMPLING_GAP
        for day, day_rx, day_tx in zip(days, rx, tx, strict=True):
            if day in totals:
                totals[day][0] += day_rx
                totals[day][1] += day_tx
                if gap:
                    estimated.add(day)
    return [TrafficDay(day, rx, tx, day in estimated) for day, (rx, tx) in sorted(totals.items())]


def hosts_for_staff() -> QuerySet[Host]:
    """Every host with how many live servers it carries, by location and name."""
    return (
        Host.objects.select_related("location")
        .annotate(servers_live=Count("servers", filter=Q(servers__destroyed_at__isnull=True)))
        .order_by("location__code", "name")
    )


def all_hosts() -> QuerySet[Host]:
    return Host.objects.all()


def host_by_public_id(public_id: str) -> Host | None:
    return Host.objects.select_related("location").filter(public_id=public_id).first() if public_id else None


def live_servers_on(host: Host) -> QuerySet[Server]:
    return Server.objects.filter(host=host, destroyed_at__isnull=True).select_related("service__customer__owner")


def operations_search(*, status: str = "", query: str = "") -> QuerySet[Operation]:
    rows = Operation.objects.select_related("service__customer__owner", "service").order_by("-created_at", "-id")
    if status:
        rows = rows.filter(status=status)
    query = query.strip()
    if query:
        rows = rows.filter(Q(public_id=query) | Q(service__public_id=query))
    return rows


def operation_status_counts() -> dict[str, int]:
    return dict(Operation.objects.values_list("status").annotate(n=Count("id")))


def operation_by_public_id(public_id: str) -> Operation | None:
    return Operation.objects.select_related("service").filter(public_id=public_id).first()


def console_websocket_url(*, secure: bool, host: str, token: str) -> str:
    """Where a console page's noVNC connects (``MEGALAYER_CONSOLE_WS_BASE``): this site, this host on another
    port (":8001"), or a base of its own; the ticket's token ends the path."""
    base = settings.MEGALAYER_CONSOLE_WS_BASE
    scheme = "wss" if secure else "ws"
    if not base:
        base = f"{scheme}://{host}"
    elif base.startswith(":"):
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        base = f"{scheme}://{name}{base}"
    return f"{base.rstrip('/')}/console/ws/{token}"


def console_csp(url: str) -> dict[str, Any]:
    """The console page's Content-Security-Policy: the site's, with the websocket's origin added to
    connect-src (Django's per-response ``_csp_config``)."""
    scheme, rest = url.split("://", 1)
    policy: dict[str, Any] = dict(settings.SECURE_CSP)
    policy["connect-src"] = [*policy.get("connect-src", []), f"{scheme}://{rest.split('/', 1)[0]}"]
    return policy


@dataclass(frozen=True, slots=True)
class TrafficUsage:
    """A server's traffic in one calendar month against its product's allowance (issue 18; TOS-NET-1)."""

    month: str  # YYYY-MM, provider's zone
    used_bytes: int
    allowance_bytes: int  # 0: unmetered
    forecast_bytes: int  # at the month's end, at the rate so far
    start: dt.datetime
    end: dt.datetime

    @property
    def percent(self) -> int:
        return self.used_bytes * 100 // self.allowance_bytes if self.allowance_bytes else 0

    @property
    def forecast_percent(self) -> int:
        return self.forecast_bytes * 100 // self.allowance_bytes if self.allowance_bytes else 0

    @property
    def exceeded(self) -> bool:
        return bool(self.allowance_bytes) and self.used_bytes >= self.allowance_bytes


# A month's first hours say little about its rate: the forecast waits this long before extrapolating.
FORECAST_AFTER = dt.timedelta(hours=6)


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of ``day``'s calendar month."""
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def traffic_usage(server: Server, *, counted: str, month_of: dt.date | None = None) -> TrafficUsage:
    """Usage of the month containing ``month_of`` (default: this month, up to now) counted as the Terms say
    (``traffic.counted``: in and out, or out only), with the forecast for the month's end at the rate so far."""
    zone = clock.provider_zone()
    today = clock.provider_today()
    first, last = month_bounds(month_of or today)
    days = traffic_days(server, first, min(last, today))
    used = sum(d.tx_bytes + (d.rx_bytes if counted == "in_and_out" else 0) for d in days)
    start = dt.datetime(first.year, first.month, first.day, tzinfo=zone)
    after = last + dt.timedelta(days=1)
    end = dt.datetime(after.year, after.month, after.day, tzinfo=zone)
    now = min(clock.now(), end)
    elapsed = now - start
    forecast = used
    if now < end and elapsed >= FORECAST_AFTER:
        forecast = used + int(used * ((end - now) / elapsed))
    allowance = int(server.service.product.bandwidth_tb * 10**12)
    return TrafficUsage(f"{first:%Y-%m}", used, allowance, forecast, start, end)


def snapshot_schedule_of(service: Service) -> SnapshotSchedule | None:
    return SnapshotSchedule.objects.filter(service=service).first()


def machines_search(*, state: str = "", query: str = "") -> QuerySet[Machine]:
    """The inventory for staff (issue 19), searchable by name, serial, rack or MAC, newest change first."""
    rows = Machine.objects.select_related("host__location", "profile", "server__service").order_by(
        "host__location__code", "rack", "position", "name"
    )
    if state:
        rows = rows.filter(state=state)
    if query:
        rows = rows.filter(
            Q(name__icontains=query)
            | Q(serial__icontains=query)
            | Q(rack__icontains=query)
            | Q(macs__icontains=query.lower())
        )
    return rows


def machine_state_counts() -> dict[str, int]:
    return dict(Machine.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))


def machine_by_public_id(public_id: str) -> Machine | None:
    return Machine.objects.filter(public_id=public_id).first()


def machine_waits_for_staff() -> QuerySet[MachineWait]:
    return MachineWait.objects.select_related("service", "profile", "location").order_by("created_at", "pk")
