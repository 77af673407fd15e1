from decimal import Decimal

import pytest

from megalayer.core.money import CurrencyMismatch, Money


def test_quantize_rounds_half_up_to_the_currency_minor_unit():
    assert Money.of("10.005", "USD").quantize() == Money(Decimal("10.01"), "USD")
    assert Money.of("1234.5", "JPY").quantize().amount == Decimal("1235")
    assert Money.of("1.0005", "KWD").quantize().amount == Decimal("1.001")


def test_zero_decimal_currency_prints_without_decimals():
    assert Money.of("1500", "JPY").as_text() == "1500"
    assert str(Money.of("5", "USD")) == "5.00 USD"


def test_mixing_currencies_is_refused():
    with pytest.raises(CurrencyMismatch):
        Money.of("1", "USD") + Money.of("1", "EUR")


def test_floats_and_unknown_currencies_are_refused():
    with pytest.raises(TypeError):
        Money.of(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported currency"):
        Money.of("1", "XXX")
    with pytest.raises(ValueError, match="finite"):
        Money.of("NaN", "USD")


def test_arithmetic_is_exact():
    total = Money.zero("USD")
    for _ in range(10):
        total = total + Money.of("0.1", "USD")
    assert total == Money.of("1.0", "USD")
    assert Money.of("5", "USD") * 3 - Money.of("1", "USD") == Money.of("14", "USD")
