"""Rows that workers send with retries: notices (e-mail) and webhook deliveries share one mechanism.

Such a table has ``status``, ``attempts``, ``next_attempt_at`` and ``claimed_at``. A sender claims a due row
(compare-and-set waiting → sending through the table's ``StatusTable``, counting the attempt), so two workers
never send it at once; a sender killed mid-send leaves the row "sending" until ``release_stale`` gives it back
after the lease; a failure waits ``retry_delay`` (exponential back-off with a cap) before the next attempt.
The machine operations' runner uses ``backoff`` too (its rows carry their own lease per driver).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.apps import apps
from django.db import models
from django.db.models import F

from megalayer.core import clock
from megalayer.core.transitions import StatusTable


def backoff(attempts: int, *, first_seconds: int, factor: int, cap_seconds: int) -> dt.timedelta:
    """The wait after the n-th failed attempt: ``first``, multiplied by ``factor`` each time, never over ``cap``
    (integer arithmetic: any attempt count, no overflow)."""
    return dt.timedelta(seconds=min(first_seconds * factor ** max(attempts - 1, 0), cap_seconds))


@dataclass(frozen=True, slots=True)
class Outbox:
    table: StatusTable
    waiting: str
    sending: str
    lease: dt.timedelta
    first_seconds: int
    factor: int
    cap_seconds: int

    @property
    def _rows(self) -> models.QuerySet[models.Model]:
        rows: models.QuerySet[models.Model] = apps.get_model(self.table.model)._default_manager.all()
        return rows

    def retry_delay(self, attempts: int) -> dt.timedelta:
        return backoff(attempts, first_seconds=self.first_seconds, factor=self.factor, cap_seconds=self.cap_seconds)

    def claim(self, pk: int) -> bool:
        """Take row ``pk`` if it is waiting and due; the attempt is counted now."""
        now = clock.now()
        return bool(
            self.table.claim(
                self._rows.filter(pk=pk, next_attempt_at__lte=now),
                sources=[self.waiting],
                target=self.sending,
                attempts=F("attempts") + 1,
                claimed_at=now,
            )
        )

    def release_stale(self) -> int:
        """Rows a killed sender left "sending" longer than the lease wait again, due now."""
        now = clock.now()
        return self.table.claim(
            self._rows.filter(claimed_at__lt=now - self.lease),
            sources=[self.sending],
            target=self.waiting,
            next_attempt_at=now,
        )

    def due_ids(self, limit: int = 500) -> list[int]:
        """Waiting rows whose next attempt is due, oldest first."""
        return list(
            self._rows.filter(status=self.waiting, next_attempt_at__lte=clock.now())
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
