"""How a null route reaches the network: a small hook interface (``MEGALAYER_NULL_ROUTE_ANNOUNCER``).

Production announces the single address (/32 or /128) with the BLACKHOLE community
65535:666 of RFC 7999, here as ExaBGP API commands written to its control pipe.
Tests use the recording announcer.
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

BLACKHOLE_COMMUNITY = "65535:666"


def host_route(address: str) -> str:
    ip = ipaddress.ip_address(address)
    return f"{ip}/{32 if ip.version == 4 else 128}"


class NullRouteAnnouncer(ABC):
    @abstractmethod
    def announce(self, address: str) -> None: ...

    @abstractmethod
    def withdraw(self, address: str) -> None: ...


class ExaBgpAnnouncer(NullRouteAnnouncer):
    """Writes ExaBGP API commands to the pipe in ``MEGALAYER_EXABGP_PIPE``."""

    def _send(self, command: str) -> None:
        with Path(settings.MEGALAYER_EXABGP_PIPE).open("a", encoding="ascii") as pipe:
            pipe.write(command + "\n")

    def announce(self, address: str) -> None:
        self._send(f"announce route {host_route(address)} next-hop self community [{BLACKHOLE_COMMUNITY}]")

    def withdraw(self, address: str) -> None:
        self._send(f"withdraw route {host_route(address)} next-hop self community [{BLACKHOLE_COMMUNITY}]")


class RecordingAnnouncer(NullRouteAnnouncer):
    """Keeps what would have been announced (tests, the demo)."""

    sent: list[str] = []

    def announce(self, address: str) -> None:
        RecordingAnnouncer.sent.append(f"announce {host_route(address)} community {BLACKHOLE_COMMUNITY}")

    def withdraw(self, address: str) -> None:
        RecordingAnnouncer.sent.append(f"withdraw {host_route(address)} community {BLACKHOLE_COMMUNITY}")


def announcer() -> NullRouteAnnouncer:
    cls: type[NullRouteAnnouncer] = import_string(settings.MEGALAYER_NULL_ROUTE_ANNOUNCER)
    return cls()
