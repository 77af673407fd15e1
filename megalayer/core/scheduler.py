"""The periodic-job scheduler loop run beside the task worker."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils.module_loading import import_string

from megalayer.core import clock
from megalayer.core.models import ScheduledRun

logger = logging.getLogger(__name__)


def schedule_tick(*, worker: str) -> list[str]:
    """Claim and enqueue every job whose current slot nobody has claimed; returns the names enqueued.

    The jobs are named by ``settings.MEGALAYER_SCHEDULE`` (a dotted path, like ``ROOT_URLCONF``): the
    schedule lists tasks of every app, and ``core`` imports none of them."""
    now = clock.now()
    enqueued: list[str] = []
    for entry in import_string(settings.MEGALAYER_SCHEDULE):
        slot = int(now.timestamp()) // entry.every
        try:
            with transaction.atomic():
                ScheduledRun.objects.create(name=entry.name, slot=slot, claimed_at=now, worker=worker)
                entry.task.enqueue()
        except IntegrityError:
            continue  # another worker owns this slot
        enqueued.append(entry.name)
    return enqueued


def scheduler_loop(*, worker: str, stop: threading.Event, interval: float = 5.0) -> None:
    while not stop.is_set():
        close_old_connections()
        try:
            names = schedule_tick(worker=worker)
        except Exception:  # the loop must survive a database blip; the next tick retries
            logger.exception("scheduler.tick_failed")
        else:
            if names:
                logger.info("scheduler.enqueued %s", ",".join(names))
        stop.wait(interval)
