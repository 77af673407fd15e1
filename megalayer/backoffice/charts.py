"""Tiny server-rendered SVG bar charts: no JavaScript build, readable without scripts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: Decimal
    x: int
    y: int
    width: int
    height: int
    text: str


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    empty: bool


def bar_chart(
    title: str, data: Sequence[tuple[str, Decimal | int]], *, width: int = 360, height: int = 160, unit: str = ""
) -> BarChart:
    chart_height = height - 30
    peak = max((Decimal(value) for _, value in data), default=Decimal(0))
    slot = width // max(len(data), 1)
    bars = []
    for index, (label, raw) in enumerate(data):
        value = Decimal(raw)
        bar_height = int(chart_height * value / peak) if peak else 0
        text = f"{value:,.0f}{unit}" if unit else f"{value:,.0f}"
        bars.append(
            Bar(label, value, index * slot + 6, chart_height - bar_height + 14, max(slot - 12, 4), bar_height, text)
        )
    return BarChart(title, bars, width, height, peak == 0)
