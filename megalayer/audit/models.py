"""The append-only, hash-chained audit log (TOS-AUDIT-1)."""

from __future__ import annotations

from typing import Any

from django.db import models


class AuditEvent(models.Model):
    """One enforcement or staff action: who did what to which object, under which clause.

    Rows are never updated or deleted: ``save()`` refuses an existing row,
    ``delete()`` refuses always, and the database refuses UPDATE and DELETE by
    trigger (migration 0002). Each row's ``hash`` covers its content and the
    previous row's hash, so an edit made behind the application's back breaks
    the chain at that row and ``megalayer audit verify`` names it.
    """

    class ActorKind(models.TextChoices):
        SYSTEM = "system", "Automation"
        STAFF = "staff", "Staff"
        CUSTOMER = "customer", "Customer"

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, db_index=True)
    requirement = models.CharField(max_length=32, db_index=True)
    terms_version = models.PositiveIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor_kind__in=["system", "staff", "customer"]), name="audit_actor_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.target_type}:{self.target_id} ({self.requirement})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit events are append-only")


class AuditChainHead(models.Model):
    """A single row locked while appending, so concurrent writers extend the chain one at a time."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_hash = models.CharField(max_length=64)
    last_event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_event_id}"
