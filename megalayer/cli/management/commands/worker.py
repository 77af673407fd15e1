"""``megalayer worker``: the django-tasks-db worker plus the periodic-job scheduler."""

from __future__ import annotations

import socket
import threading
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from megalayer.core.scheduler import scheduler_loop


class Command(BaseCommand):
    help = "Run queued tasks and the periodic jobs of config/schedule.py."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between queue polls.")
        parser.add_argument("--no-scheduler", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = f"{socket.gethostname()}:{threading.get_native_id()}"
        stop = threading.Event()
        if not options["no_scheduler"]:
            threading.Thread(
                target=scheduler_loop, kwargs={"worker": worker, "stop": stop}, daemon=True, name="scheduler"
            ).start()
        self.stdout.write(f"Worker {worker} started.")
        try:
            call_command("db_worker", interval=options["interval"], worker_id=worker[:64], queue_name="*")
        finally:
            stop.set()
