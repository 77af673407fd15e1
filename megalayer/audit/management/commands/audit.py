"""``megalayer audit verify``: check the audit hash chain; exit 1 naming the first broken event."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from megalayer.audit.queries import audit_verify


class Command(BaseCommand):
    help = "Audit log tools."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("verify")

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify()
        if not result.ok:
            raise CommandError(f"audit chain broken at event #{result.broken_event_id}: {result.reason}")
        self.stdout.write(f"audit chain intact: {result.checked} events verified")
