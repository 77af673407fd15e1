"""API rate limits (issue 14, item 13): per token and per client address, answered with 429 and ``Retry-After``.

Built on django-ninja's sliding-window throttle (counts kept in the cache, which ``MEGALAYER_CACHE=database``
shares between web nodes). Two differences from ninja's own classes, both on purpose:

- the client's address is ``REMOTE_ADDR`` only; ninja would otherwise read ``X-Forwarded-For``, which any
  client can set to get a fresh allowance on every request (behind a proxy, make the proxy's client address
  the ``REMOTE_ADDR``, as for the sign-in lockout);
- time comes from the platform clock, and the rates from settings at each request, so that tests and
  operators change them without restarting.

The per-address limit also counts requests whose token is refused, so guessing tokens from one address is
limited too (``TokenAuth`` records them here).
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.throttling import SimpleRateThrottle

from megalayer.core import clock


class _Throttle(SimpleRateThrottle):
    scope = ""

    def __init__(self) -> None:
        # The rate is read per request (see allow_request), not fixed here.
        self.rate = None
        self.num_requests = self.duration = None

    def timer(self) -> float:  # ninja assigns time.time to the class; the platform clock instead
        return clock.now().timestamp()

    def get_ident(self, request: HttpRequest) -> str:
        return str(request.META.get("REMOTE_ADDR", ""))

    def allow_request(self, request: HttpRequest) -> bool:
        rate: str | None = settings.MEGALAYER_API_RATES.get(self.scope)
        if not rate:
            return True
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)
        return super().allow_request(request)

    def wait(self) -> float | None:
        """Seconds until the oldest counted request leaves the window, so the next one is allowed."""
        if not self.history or self.duration is None:
            return None
        return float(max(self.duration - (self.now - self.history[-1]), 1))


class AddressThrottle(_Throttle):
    """Every API request from one client address, with or without a token."""

    scope = "address"

    def get_cache_key(self, request: HttpRequest) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenThrottle(_Throttle):
    """Every request made with one token (a customer's scripts cannot starve the others)."""

    scope = "token"

    def get_cache_key(self, request: HttpRequest) -> str | None:
        token = getattr(request, "auth", None)
        if token is None:
            return None  # the public operations: the address limit covers them
        return self.cache_format % {"scope": self.scope, "ident": token.pk}


def count_refused_token(request: HttpRequest) -> None:
    """A request whose token was refused still counts against its address; past the limit it is a 429."""
    throttle = AddressThrottle()
    if not throttle.allow_request(request):
        raise Throttled(wait=math.ceil(throttle.wait() or 1))
