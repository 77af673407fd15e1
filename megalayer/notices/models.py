"""The notices outbox (TOS-EMAIL-2)."""

from __future__ import annotations

from typing import Any

from django.db import models

from megalayer.core.ids import PublicIdFactory
from megalayer.notices.choices import NOTICE_STATUS, Kind, Status


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
    # The kinds live in code (``Kind``), not in the schema: each feature adds its notices without a
    # migration that only restates the list. ``notice_create`` refuses a kind it does not know.
    kind = models.CharField(max_length=32)
    requirement = models.CharField(max_length=32)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    reply_to = models.CharField(max_length=255, blank=True, help_text="Where a reply by e-mail goes (tickets).")
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
        constraints = [NOTICE_STATUS.constraint()]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} to {self.recipient} ({self.status})"

    def get_kind_display(self) -> str:
        return str(Kind(self.kind).label) if self.kind in Kind.values else self.kind


class InboundEvent(models.Model):
    """One event received from a hook, by its sender's id: a hook retried by its sender is processed once."""

    source = models.CharField(max_length=32)
    event_id = models.CharField(max_length=128)
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="inbound_event_once")]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_id}"


class InboundMessage(models.Model):
    """Every message the mail server piped in, kept raw before anything acts on it (issue 16).

    Content-addressed: the same bytes twice are one message; a reused Message-ID with other content is
    another. ``kind`` is where the routing placed it; ``unsorted`` waits for staff in the back office.
    """

    class Kind(models.TextChoices):
        BOUNCE = "bounce", "Delivery report"
        ABUSE = "abuse", "Abuse complaint"
        REPLY = "reply", "Ticket reply"
        SUPPORT = "support", "Support mail"
        UNSORTED = "unsorted", "Unsorted"

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("inm"), editable=False)
    sha256 = models.CharField(max_length=64, unique=True)
    raw = models.BinaryField()
    envelope_recipients = models.CharField(max_length=1000, blank=True)
    received_at = models.DateTimeField()
    message_id = models.CharField(max_length=255, blank=True)
    sender = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    outcome = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["kind", "handled_at"], name="inbound_message_queue")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind}"


class AttackAlarm(models.Model):
    """One attack on (incoming) or from (outgoing) one address, from the detector's ban to its unban.

    While it is open, further alerts of the detector only update the counters, so the
    customer gets one e-mail per attack, not one per burst (TOS-ATTACK-1).
    """

    class Direction(models.TextChoices):
        INCOMING = "incoming", "Attack on the address"
        OUTGOING = "outgoing", "Attack from the address"
        # Between two addresses of our own networks: the address attacks a neighbour. Told like an outgoing
        # attack, never null-routed automatically (both ends are customers; staff decide).
        INTERNAL = "internal", "Attack inside our network"
        # The detector could not tell: recorded and told like an attack on the address.
        OTHER = "other", "Attack of unknown direction"

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("atk"), editable=False)
    address = models.GenericIPAddressField()
    direction = models.CharField(max_length=16, choices=Direction.choices)
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="attack_alarms"
    )
    service = models.ForeignKey(
        "services.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="attack_alarms"
    )
    started_at = models.DateTimeField()
    last_alert_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    alerts = models.PositiveIntegerField(default=1)
    peak_pps = models.BigIntegerField(default=0)
    peak_bps = models.BigIntegerField(default=0)
    details = models.TextField(blank=True, help_text="What the detector sent about the attack (first alert).")
    null_route = models.ForeignKey(
        "network.NullRoute", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["address", "direction"], condition=models.Q(ended_at__isnull=True), name="attack_open_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.direction} {self.address}"


class NetworkNotice(models.Model):
    """A maintenance window or an incident, sent once to the customers of the affected services and shown
    on those services until the window ends (TOS-NET-2, TOS-MAINT-1). No SLA credit follows from it."""

    class Kind(models.TextChoices):
        MAINTENANCE = "maintenance", "Scheduled maintenance"
        INCIDENT = "incident", "Incident"

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("nn"), editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty for an incident until it is resolved.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    location = models.ForeignKey("catalog.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    tier = models.ForeignKey("catalog.NetworkTier", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    host = models.ForeignKey("provisioning.Host", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    services: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        "services.Service", related_name="network_notices", blank=True, help_text="Affected, fixed at publication."
    )
    published_by = models.CharField(max_length=255)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id} {self.title}"

    @property
    def scope(self) -> str:
        parts = [
            f"location {self.location.name}" if self.location_id and self.location else "",
            f"{self.tier.name} network" if self.tier_id and self.tier else "",
            f"host {self.host.name}" if self.host_id and self.host else "",
        ]
        return ", ".join(p for p in parts if p) or "listed services"


class NetworkNoticeUpdate(models.Model):
    notice = models.ForeignKey(NetworkNotice, on_delete=models.CASCADE, related_name="updates")
    at = models.DateTimeField()
    body = models.TextField()
    resolves = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.notice_id} @ {self.at:%Y-%m-%d %H:%M}"


class NetworkNoticeRecipient(models.Model):
    """Who was told: updates go to the same people, and nobody is told twice."""

    notice = models.ForeignKey(NetworkNotice, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notice", "customer"], name="network_notice_recipient_once")]

    def __str__(self) -> str:
        return f"{self.notice_id} → {self.customer_id}"
