"""Numbers people type: ASCII digits only.

Python's ``int()`` and ``Decimal()`` read any Unicode decimal digit, so full-width ``"\uff11\uff12"``
or Arabic-Indic ``"\u0661\u0662"`` became 12 in every numeric form field and in the API's amounts. A
number that looks like one thing on screen and is stored as another has no place in billing (issue 14,
item 16): such input is refused with a clear message instead. Used by the forms' numeric fields, the
API's amounts and the Terms' policy schema.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from django import forms
from django.core.exceptions import ValidationError
from pydantic import BeforeValidator

MESSAGE = "Use the digits 0-9."


def has_foreign_digits(value: object) -> bool:
    return isinstance(value, str) and any(c.isdigit() and not c.isascii() for c in value)


def _ascii_only(value: Any) -> Any:
    if has_foreign_digits(value):
        raise ValueError(MESSAGE)
    return value


# For pydantic models (the API's inputs, the Terms' policy parameters).
AsciiDecimal = Annotated[Decimal, BeforeValidator(_ascii_only)]


class _AsciiDigits:
    def to_python(self, value: Any) -> Any:
        if has_foreign_digits(value):
            raise ValidationError(MESSAGE, code="invalid")
        return super().to_python(value)  # type: ignore[misc]


class IntegerField(_AsciiDigits, forms.IntegerField):
    """``forms.IntegerField`` that refuses non-ASCII digits."""


class DecimalField(_AsciiDigits, forms.DecimalField):
    """``forms.DecimalField`` that refuses non-ASCII digits."""
