"""``megalayer automation run [--dry-run] [--at TIME]``: the lifecycle automation, on demand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from megalayer.core import clock
from megalayer.services.actions.automation import automation_run


def _parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--at takes an ISO 8601 time, e.g. 2027-02-10T10:00Z (got {value!r})") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Run the lifecycle automation: renewal invoices, reminders, auto-renew, expiry, suspension, deletion."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        run = sub.add_parser("run")
        run.add_argument("--dry-run", action="store_true", help="List what would happen; change nothing.")
        run.add_argument("--at", type=_parse_time, help="Run as if it were this time (UTC unless a zone is given).")
        run.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        moment = options["at"] or clock.now()
        with clock.travel(moment):
            result = automation_run(dry_run=options["dry_run"], batch_size=options["batch_size"])
        title = "Would do" if result.dry_run else "Done"
        self.stdout.write(
            f"Automation at {moment:%Y-%m-%d %H:%M} UTC{' (dry run: nothing changed)' if result.dry_run else ''}"
        )
        if result.items:
            self.stdout.write(f"\n{'service':<22} {'step':<16} {'detail':<6} {'date':<17} why")
            for item in result.items:
                self.stdout.write(
                    f"{item.service:<22} {item.kind:<16} {item.detail:<6} {item.due:%Y-%m-%d %H:%M} {item.why}"
                )
        self.stdout.write(f"\n{title}:")
        for kind, count in sorted(result.counts().items()):
            self.stdout.write(f"  {kind:<18} {count:>6}")
        if not result.items:
            self.stdout.write("  nothing due")
        for failure in result.failures:
            self.stderr.write(f"failed: {failure}")
        if result.failures:
            raise CommandError(f"{len(result.failures)} step(s) failed; they are retried on the next run")
