"""Model fields of the platform."""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.db.models.expressions import Combinable

from megalayer.core import crypto


class EncryptedJSONField(models.Field[dict[str, Any] | Combinable, dict[str, Any]]):
    """A JSON object kept encrypted in the database (``core.crypto``); Python code sees a plain ``dict``.

    The empty object is stored as the empty string, so the one query such a field needs, "has it any
    secret left?" (``exclude(secrets={})``, ``update(secrets={})``), still works: every other value is a
    different ciphertext each time it is written and cannot be compared in SQL. A dump (``dumpdata``)
    carries the ciphertext, not the secret.
    """

    def get_internal_type(self) -> str:
        return "TextField"  # the column: text, as long as the ciphertext needs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict[str, Any]:
        if not value:
            return {}
        loaded: dict[str, Any] = json.loads(crypto.decrypt(value))
        return loaded

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        return self.from_db_value(value, None, None)

    def get_prep_value(self, value: Any) -> str:
        if not value:
            return ""
        if not isinstance(value, dict):
            raise TypeError(f"{self.name} holds a JSON object, not {type(value).__name__}")
        return crypto.encrypt(json.dumps(value, sort_keys=True).encode())

    def value_to_string(self, obj: models.Model) -> str:
        return self.get_prep_value(self.value_from_object(obj))
