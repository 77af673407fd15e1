"""``{{ amount|money:currency }}`` renders an amount at its currency's precision: ``5.00 USD``, ``1500 JPY``."""

from __future__ import annotations

from decimal import Decimal

from django import template

from megalayer.core.money import Money

register = template.Library()


@register.filter(name="money")
def money(amount: Decimal | str | int | None, currency: str) -> str:
    if amount is None or amount == "":
        return ""
    return str(Money.of(amount if not isinstance(amount, float) else str(amount), currency))
