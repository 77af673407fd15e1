"""Machine actions as rows: the row, not the queue, is the truth about an operation."""

from __future__ import annotations

from django.db import models

from megalayer.core.ids import PublicIdFactory


class Operation(models.Model):
    """One requested machine action (create, reinstall, power, destroy…) and its attempts."""

    class Kind(models.TextChoices):
        CREATE = "create", "Create"
        REINSTALL = "reinstall", "Reinstall"
        POWER = "power", "Power"
        DESTROY = "destroy", "Destroy"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("op"), editable=False)
    service = models.ForeignKey("services.Service", on_delete=models.PROTECT, related_name="operations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=200, unique=True)
    parameters = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    failed_on_our_side = models.BooleanField(
        default=False, help_text="A failure of ours: a reinstall that failed so gives its quota and fee back."
    )
    fee_invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quota_month = models.CharField(max_length=7, blank=True, help_text="YYYY-MM in the provider's zone (reinstalls).")
    log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["service", "kind", "quota_month"], name="operation_quota_idx")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} {self.status}"
