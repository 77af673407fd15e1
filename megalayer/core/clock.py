"""The platform's clock.

Every "now" in domain code comes from ``clock.now()`` so that tests (with
time-machine) and the simulator (``clock.travel``) can move time. The override
is process-local on purpose: it is for tests, the simulator and ``--at`` on
one-shot commands, never for shared state between workers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

_state = threading.local()


def now() -> dt.datetime:
    """The current time, timezone-aware in UTC (or the travelled-to time)."""
    fixed: dt.datetime | None = getattr(_state, "fixed", None)
    if fixed is not None:
        return fixed
    return timezone.now()


def set_time(moment: dt.datetime | None) -> None:
    """Pin the clock to ``moment`` (``None`` releases it)."""
    if moment is not None and timezone.is_naive(moment):
        raise ValueError("the clock takes timezone-aware times")
    _state.fixed = moment


@contextlib.contextmanager
def travel(moment: dt.datetime) -> Iterator[None]:
    previous = getattr(_state, "fixed", None)
    set_time(moment)
    try:
        yield
    finally:
        set_time(previous)


def advance(delta: dt.timedelta) -> dt.datetime:
    """Move a pinned clock forward; the simulator steps days with it."""
    moment = now() + delta
    set_time(moment)
    return moment


def provider_zone() -> ZoneInfo:
    return ZoneInfo(settings.MEGALAYER_PROVIDER_TIME_ZONE)


def provider_today() -> dt.date:
    """Today's date in the provider's time zone (calendar months, renewal anchors)."""
    return now().astimezone(provider_zone()).date()
