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
