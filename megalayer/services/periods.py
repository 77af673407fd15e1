"""Billing periods that keep their anchor day across month ends (31 Jan → 28/29 Feb → 31 Mar)."""

from __future__ import annotations

import calendar
import datetime as dt

from megalayer.core import clock


def add_months(moment: dt.datetime, months: int, anchor_day: int) -> dt.datetime:
    """``moment`` moved ``months`` ahead in the provider's zone, on ``anchor_day`` (or the month's last day)."""
    local = moment.astimezone(clock.provider_zone())
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(dt.UTC)


def renewal_reference(public_id: str, paid_until: dt.datetime) -> str:
    """The reference of a renewal invoice line: the service and the end of the period it extends. The one place
    this string is made; a renewal for the same period is found again by it (and paid for once)."""
    return f"{renewal_reference_prefix(public_id)}{paid_until.isoformat()}"


def renewal_reference_prefix(public_id: str) -> str:
    """What every renewal reference of the service starts with (its open renewals, whatever the period)."""
    return f"{public_id}:"


def service_of_renewal_reference(reference: str) -> str:
    """The service's public id in a renewal line's reference."""
    return reference.split(":", 1)[0]
