"""``megalayer serve``: migrate, collect static files, run granian (WSGI)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Apply migrations and serve the platform with granian."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_migrate"]:
            prepare_database(verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        granian = os.path.join(os.path.dirname(sys.executable), "granian")
        argv = [
            granian,
            "--interface",
            "wsgi",
            "--host",
            options["host"],
            "--port",
            str(options["port"]),
            "--workers",
            str(options["workers"]),
            "--static-path-route",
            settings.STATIC_URL.rstrip("/"),
            "--static-path-mount",
            str(settings.STATIC_ROOT),
            "config.wsgi:application",
        ]
        self.stdout.write(f"Serving on http://{options['host']}:{options['port']}/")
        os.execv(granian, argv)  # noqa: S606 (replace this process with granian)


def prepare_database(*, verbosity: int) -> None:
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=verbosity)
    call_command("createcachetable", verbosity=verbosity)
