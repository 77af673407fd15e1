"""What the apps below ``accounts`` may know of a person (ADR 0005).

``audit`` and ``terms`` sit below ``accounts`` in the layers (ADR 0002), so they cannot name
``accounts.models.User``; they take this read-only protocol instead, which ``User`` satisfies.
``mypy --strict`` then checks their callers as it checks everyone else's, without an upward import.
"""

from __future__ import annotations

from typing import Any, Protocol

# What stands where personal data was erased (TOS-PRIVACY-1); every app's erasure writes the same word.
ERASED = "[erased]"


class Person(Protocol):
    """A signed-in person: their primary key, their login address and whether they are staff."""

    @property
    def pk(self) -> Any: ...

    @property
    def email(self) -> str: ...

    @property
    def is_staff(self) -> bool: ...
