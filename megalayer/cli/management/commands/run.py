"""``megalayer run``: web, worker and the console proxy (web port + 1) together, for one host and the demo."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from megalayer.cli.management.commands.serve import prepare_database


class Command(BaseCommand):
    help = "Start the web server, a worker and the console proxy; Ctrl-C stops them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_database(verbosity=0)
        base = [sys.executable, "-m", "megalayer.cli"]
        serve = [*base, "serve", "--no-migrate", "--host", options["host"], "--port", str(options["port"])]
        web = subprocess.Popen(serve)  # noqa: S603 (our own interpreter and arguments)
        worker = subprocess.Popen([*base, "worker"])  # noqa: S603
        console = [*base, "console_proxy", "--host", options["host"], "--port", str(options["port"] + 1)]
        proxy = subprocess.Popen(console)  # noqa: S603
        processes = [web, worker, proxy]

        def stop(*_: object) -> None:
            for process in processes:
                if process.poll() is None:
                    process.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for process in processes:
                process.wait(timeout=20)
