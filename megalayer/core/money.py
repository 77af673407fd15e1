"""Money: a ``Decimal`` amount with its currency, never a float.

Amounts are exact while they are computed; rounding happens only at the edges
(an invoice line, a payment) with ``quantize()``, to the currency's minor unit
(two places for USD, none for JPY, three for KWD).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator

# ISO 4217 minor units for the currencies that deviate from two, plus the usual ones.
MINOR_UNITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "SGD": 2,
    "CNY": 2,
    "PHP": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "KWD": 3,
    "BHD": 3,
}


# Database columns for amounts: four decimal places hold every currency's minor unit
# (three at most) plus exact intermediate shares; values are rounded only at the edges.
AMOUNT_FIELD: dict[str, Any] = {"max_digits": 20, "decimal_places": 4}


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


def known_currency(code: str) -> str:
    """An unknown code (XXX, BTC) is refused where it is typed, naming the field, not deep in the money code."""
    if code not in MINOR_UNITS:
        raise ValueError(f"unsupported currency {code!r}; one of {', '.join(sorted(MINOR_UNITS))}")
    return code


# A currency field in any pydantic schema (API bodies, policy parameters).
Currency = Annotated[str, AfterValidator(known_currency)]


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError as error:
        raise ValueError(f"unsupported currency {currency!r}") from error


def to_decimal(value: Decimal | int | str | float) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money never comes from a float; pass a str or Decimal")
    try:
        result = Decimal(value)
    except InvalidOperation as error:
        raise ValueError(f"not a decimal amount: {value!r}") from error
    if not result.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        minor_units(self.currency)

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def quantize(self) -> Money:
        """Round half up to the currency's minor unit: the only rounding the platform does."""
        exponent = Decimal(1).scaleb(-minor_units(self.currency))
        return Money(self.amount.quantize(exponent, rounding=ROUND_HALF_UP), self.currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * to_decimal(factor), self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def as_text(self) -> str:
        """The amount as a fixed-point string at the currency's precision, e.g. ``"5.00"``."""
        return f"{self.quantize().amount:f}"

    def __str__(self) -> str:
        return f"{self.as_text()} {self.currency}"
