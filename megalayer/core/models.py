"""Shared-kernel tables: the scheduler's claim rows."""

from __future__ import annotations

from django.db import models


class ScheduledRun(models.Model):
    """One claimed slot of a periodic job; the unique key makes each slot run once across workers."""

    name = models.CharField(max_length=100)
    slot = models.BigIntegerField(help_text="Seconds since the epoch divided by the job's interval.")
    claimed_at = models.DateTimeField()
    worker = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="scheduled_run_once_per_slot")]

    def __str__(self) -> str:
        return f"{self.name}@{self.slot}"
