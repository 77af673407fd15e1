"""``megalayer token create --email E [--staff] [--scope write]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from megalayer.accounts.actions import token_create
from megalayer.accounts.models import User
from megalayer.core.errors import DomainError


class Command(BaseCommand):
    help = "Create an API token for a user; the token is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create")
        create.add_argument("--email", required=True)
        create.add_argument("--staff", action="store_true")
        create.add_argument("--scope", choices=["read", "write"], default="write")
        create.add_argument("--name", default="command line")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"no user with e-mail {options['email']}")
        try:
            issued = token_create(user=user, name=options["name"], scope=options["scope"], staff=options["staff"])
        except DomainError as error:
            raise CommandError(error.detail) from error
        self.stdout.write(issued.plaintext)
