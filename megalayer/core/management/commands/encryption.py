"""``megalayer encryption new-key | rotate``: keys for the secrets kept at rest (``core.crypto``).

Rotation, without downtime: put a new key first in ``MEGALAYER_ENCRYPTION_KEYS`` (keep the old one after
it) on every process, run ``megalayer encryption rotate``, then remove the old key. The command finds
every encrypted field of every installed model itself, so a new one is rotated without changing this file.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from megalayer.core import crypto
from megalayer.core.fields import EncryptedJSONField


class Command(BaseCommand):
    help = "Make a new encryption key, or re-encrypt every stored secret with the first configured key."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("new-key", help="print a new key (put it first in MEGALAYER_ENCRYPTION_KEYS)")
        sub.add_parser("rotate", help="re-encrypt every stored secret with the first key")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verb"] == "new-key":
            self.stdout.write(Fernet.generate_key().decode())
            return
        total = 0
        for model in apps.get_models():
            for field in model._meta.get_fields():
                if isinstance(field, EncryptedJSONField):
                    total += self._rotate(model, field.attname)
        self.stdout.write(f"re-encrypted {total} value(s) with the first key")

    def _rotate(self, model: Any, name: str) -> int:
        count = 0
        for pk in model.objects.exclude(**{name: {}}).values_list("pk", flat=True).iterator():
            try:
                with transaction.atomic():
                    rows = model.objects.select_for_update().filter(pk=pk)
                    value = rows.values_list(name, flat=True).first()  # opened with any configured key
                    if value is None:  # gone meanwhile
                        continue
                    rows.update(**{name: value})  # sealed with the first
            except crypto.InvalidToken as error:
                raise CommandError(f"{model._meta.label} {pk}: no configured key opens its {name}") from error
            count += 1
        return count
