"""The notices outbox (TOS-EMAIL-2)."""

from __future__ import annotations

from django.db import models

from megalayer.core.ids import PublicIdFactory
from megalayer.notices.choices import Kind, Status


class Notice(models.Model):
    """One message to one recipient, with its delivery.

    Created in the same transaction as the change it reports (so a rolled-back
    change sends nothing) and keyed by ``dedupe_key`` (so a retried job or a
    second worker never produces a second copy). The row is the truth about
    delivery; the queue only wakes the sender.
    """

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("ntc"), editable=False)
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    recipient = models.EmailField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    requirement = models.CharField(max_length=32)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notice_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "sending", "sent", "failed"]), name="notice_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} to {self.recipient} ({self.status})"
