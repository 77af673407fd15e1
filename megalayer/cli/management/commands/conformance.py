"""``megalayer conformance [--write]``: print (or write) ``docs/conformance.md`` from the conformance table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from megalayer.conformance import render


class Command(BaseCommand):
    help = "Render the conformance table (requirement → faces, API, notices, policy, test) as Markdown."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true", help="Write docs/conformance.md instead of printing.")

    def handle(self, *args: Any, **options: Any) -> None:
        text = render()
        if not options["write"]:
            self.stdout.write(text, ending="")
            return
        target = Path(settings.BASE_DIR) / "docs" / "conformance.md"
        target.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {target}")
