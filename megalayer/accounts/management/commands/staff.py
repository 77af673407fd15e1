"""``megalayer staff create --email E [--name N] --roles support,billing`` and ``megalayer staff roles``.

A new staff member gets a random first password, printed once; the back office then makes them set up a
second factor before anything else. Roles: ``accounts/roles.py`` (also changed in back office → Staff).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from megalayer.accounts.actions import staff_create, staff_roles_set
from megalayer.accounts.models import User
from megalayer.accounts.roles import ROLES
from megalayer.audit.actions import Actor
from megalayer.core.errors import DomainError


class Command(BaseCommand):
    help = "Create a staff member with roles, or change a staff member's roles."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create")
        create.add_argument("--email", required=True)
        create.add_argument("--name", default="")
        create.add_argument("--roles", required=True, help=f"comma-separated: {', '.join(ROLES)}")
        roles = sub.add_parser("roles")
        roles.add_argument("--email", required=True)
        roles.add_argument("--roles", required=True, help="comma-separated; empty: none")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = [r.strip() for r in options["roles"].split(",") if r.strip()]
        actor = Actor.system("megalayer staff")
        try:
            if options["verb"] == "create":
                password = secrets.token_urlsafe(18)
                user = staff_create(
                    email=options["email"],
                    password=password,
                    full_name=options["name"],
                    actor=actor,
                    roles=tuple(wanted),
                )
                self.stdout.write(
                    f"{user.email}: first password {password} (shown once; a second factor is set up at first sign-in)"
                )
                return
            member = User.objects.filter(email__iexact=options["email"], is_staff=True).first()
            if member is None:
                raise CommandError(f"no staff member with e-mail {options['email']}")
            staff_roles_set(user=member, roles=wanted, actor=actor)
            self.stdout.write(f"{member.email}: roles {', '.join(member.staff_roles) or 'none'}")
        except DomainError as error:
            raise CommandError(error.detail) from error
