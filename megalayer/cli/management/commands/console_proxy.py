"""``megalayer console_proxy``: the browser console's websocket proxy (granian, ASGI)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the console proxy: noVNC websockets to the machines' VNC listeners (portal/console_proxy.py)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)

    def handle(self, *args: Any, **options: Any) -> None:
        granian = os.path.join(os.path.dirname(sys.executable), "granian")
        argv = [
            granian,
            "--interface",
            "asgi",
            "--host",
            options["host"],
            "--port",
            str(options["port"]),
            "config.asgi_console:application",
        ]
        self.stdout.write(f"Console proxy on ws://{options['host']}:{options['port']}/console/ws/")
        os.execv(granian, argv)  # noqa: S606 (replace this process with granian)
