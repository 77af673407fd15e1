"""``megalayer ledger verify``: prove the ledger's invariants over the whole book."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from megalayer.ledger.queries import ledger_verify


class Command(BaseCommand):
    help = "Ledger tools."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("verify")

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_verify()
        if not report.ok:
            for problem in report.problems[:100]:
                self.stderr.write(problem)
            raise CommandError(f"ledger verify: {len(report.problems)} problem(s); first: {report.problems[0]}")
        self.stdout.write(f"ledger intact: {report.transactions} transactions, {report.postings} postings")
