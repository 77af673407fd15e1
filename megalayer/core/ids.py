"""Opaque public ids with a type prefix (``cus_…``, ``ntc_…``), never database integers."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_public_id(prefix: str, length: int = 16) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def public_id_factory(prefix: str) -> PublicIdFactory:
    return PublicIdFactory(prefix)


class PublicIdFactory:
    """A picklable default callable for a model field (migrations serialise it by path)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self) -> str:
        return new_public_id(self.prefix)

    def deconstruct(self) -> tuple[str, tuple[str], dict[str, str]]:
        return ("megalayer.core.ids.PublicIdFactory", (self.prefix,), {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicIdFactory) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)


def pk_or_none(value: object) -> int | None:
    """A primary key from a form or query string, or None when it is not a whole number (a lookup then finds
    nothing and the face answers 404, never a 500)."""
    try:
        return int(str(value))
    except ValueError:
        return None
