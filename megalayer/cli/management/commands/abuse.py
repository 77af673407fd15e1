"""``megalayer abuse run [--dry-run] [--at TIME]``: the abuse desk's periodic run on demand.

Deadlines passed (escalation and, per the Terms, null routes), repeat offences (``abuse.repeat_offence``) and
legal holds that end soon; the worker runs it every five minutes. ``--dry-run`` lists what it would do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from megalayer.abuse.actions import abuse_deadlines_plan, abuse_deadlines_run


class Command(BaseCommand):
    help = "Run the abuse desk's deadlines and repeat-offence policy now, or list what it would do."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="Escalate passed deadlines, apply the repeat-offence policy.")
        run.add_argument("--dry-run", action="store_true", help="List what would happen; change nothing.")
        run.add_argument("--at", help="With --dry-run: the moment to plan for (ISO 8601), default now.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["dry_run"]:
            if options["at"]:
                raise CommandError("--at plans only: use it with --dry-run.")
            counts = abuse_deadlines_run()
            for name, count in counts.items():
                self.stdout.write(f"{name:<18}{count:>6}")
            return
        at = None
        if options["at"]:
            try:
                at = dt.datetime.fromisoformat(options["at"])
            except ValueError as error:
                raise CommandError("--at takes an ISO 8601 time, e.g. 2027-02-04T10:00Z") from error
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
        plan = abuse_deadlines_plan(at)
        self.stdout.write("Abuse desk (dry run: nothing changed)")
        for step, items in plan.items():
            self.stdout.write(f"{step}: {len(items)}")
            for item in items:
                self.stdout.write(f"  {item}")
