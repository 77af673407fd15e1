"""Traffic counters sampled from the drivers (the traffic chart and the monthly allowance read them)."""

from __future__ import annotations

from collections.abc import Iterable

from megalayer.core import clock
from megalayer.provisioning.actions.hosts import host_driver
from megalayer.provisioning.drivers.base import (
    Capability,
    DriverError,
)
from megalayer.provisioning.models import Server, TrafficSample


def traffic_sample(*, servers: Iterable[Server] | None = None) -> int:
    """Read each live server's counters once (hourly by the worker) for the traffic chart."""
    now = clock.now().replace(second=0, microsecond=0)
    taken = 0
    rows = (
        servers
        if servers is not None
        else Server.objects.select_related("host").filter(destroyed_at__isnull=True, built_at__isnull=False)
    )
    for server in rows:
        driver = host_driver(server.host)
        if not driver.supports(Capability.TRAFFIC):
            continue
        try:
            counters = driver.traffic(server.name)
        except DriverError:
            continue
        _, created = TrafficSample.objects.get_or_create(
            server=server, at=now, defaults={"rx_bytes": counters.rx_bytes, "tx_bytes": counters.tx_bytes}
        )
        taken += int(created)
    return taken
