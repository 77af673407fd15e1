"""Abuse reports (stored unchanged, with their SHA-256, before anything parses them), the events found in
them, and cases per (service, category) (TOS-ABUSE-1)."""

from __future__ import annotations

from django.db import models

from megalayer.abuse.choices import CASE_STATUS, OPEN_CASE_STATUSES, CaseStatus, Category, Parser, Source
from megalayer.core.ids import PublicIdFactory


class AbuseReport(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("abr"), editable=False)
    source = models.CharField(max_length=8, choices=Source.choices)
    raw = models.BinaryField(help_text="The report exactly as received.")
    sha256 = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField()
    reporter = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    parser = models.CharField(max_length=16, choices=Parser.choices, default=Parser.NONE)
    parse_error = models.TextField(blank=True)
    needs_triage = models.BooleanField(default=False)
    trusted = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why its structured findings count as confirmed (a trusted reporter's DKIM pass, staff); "
        "empty: a person confirms each finding before anything happens.",
    )

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id} {self.subject}"


class AbuseCase(models.Model):
    """The events about one service in one category, while open; the customer answers in its thread."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("abc"), editable=False)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="abuse_cases")
    service = models.ForeignKey(
        "services.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="abuse_cases"
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    opened_at = models.DateTimeField()
    deadline_at = models.DateTimeField()
    deadline_action_at = models.DateTimeField(null=True, blank=True, help_text="When the deadline policy acted.")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "category"],
                condition=models.Q(status__in=[s.value for s in OPEN_CASE_STATUSES]),
                name="abuse_case_open_once",
            ),
            CASE_STATUS.constraint(),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.category}"


class AbuseEvent(models.Model):
    """One incident in a report: an address, a moment, a category; attributed to whoever held the address
    at that moment, or left for triage."""

    report = models.ForeignKey(AbuseReport, on_delete=models.CASCADE, related_name="events")
    address = models.GenericIPAddressField()
    occurred_at = models.DateTimeField()
    category = models.CharField(max_length=20, choices=Category.choices)
    detail = models.CharField(max_length=500, blank=True)
    assignment = models.ForeignKey(
        "network.IpAssignment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    case = models.ForeignKey(AbuseCase, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    confirmed = models.BooleanField(default=True, help_text="Free-text findings wait for staff to confirm.")
    informational = models.BooleanField(
        default=False, help_text="A report that informs rather than complains (ARF not-spam, auth-failure): no measure."
    )

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.address} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class AbuseMessage(models.Model):
    case = models.ForeignKey(AbuseCase, on_delete=models.CASCADE, related_name="messages")
    from_staff = models.BooleanField(default=False)
    author = models.CharField(max_length=255)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} #{self.pk}"


class LegalHold(models.Model):
    """Evidence preserved (TOS-HOLD-1): while a hold stands, nothing it covers is deleted, whatever asks."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("hold"), editable=False)
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    service = models.ForeignKey(
        "services.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    address = models.GenericIPAddressField(null=True, blank=True)
    reason = models.CharField(max_length=500)
    case = models.ForeignKey(AbuseCase, null=True, blank=True, on_delete=models.PROTECT, related_name="holds")
    order_reference = models.CharField(max_length=200, blank=True, help_text="The legal order it preserves for.")
    placed_at = models.DateTimeField()
    placed_by = models.CharField(max_length=255)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until released.")
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=255, blank=True)
    evidence = models.JSONField(default=dict, blank=True, help_text="The evidence copy, or why there is none.")
    records = models.FileField(
        upload_to="legal/holds/%Y/", blank=True, help_text="The customers' records as they stood (zip, manifest)."
    )

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(customer__isnull=False)
                | models.Q(service__isnull=False)
                | models.Q(address__isnull=False),
                name="legal_hold_has_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.reason[:40]})"

    @property
    def records_sha256(self) -> str:
        """The records snapshot's SHA-256, as the evidence (and so the audit event) states it."""
        return str((self.evidence.get("records") or {}).get("sha256", ""))


class LegalOrder(models.Model):
    """A government order, court order or lawyer's letter (TOS-LEGAL-1). Visible only to staff with the
    ``abuse.legal`` permission."""

    class Kind(models.TextChoices):
        GOVERNMENT = "government", "Government order"
        COURT = "court", "Court order"
        LAWYER = "lawyer", "Lawyer's letter"

    class Orders(models.TextChoices):
        SHUT_DOWN = "shut_down", "Shut down the service"
        SUSPEND_IP = "suspend_ip", "Suspend an address"
        PRESERVE = "preserve", "Preserve evidence"
        PROVIDE_DATA = "provide_data", "Provide data"

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("lo"), editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    issuer = models.CharField(max_length=200)
    reference = models.CharField(max_length=200)
    received_at = models.DateTimeField()
    document = models.FileField(upload_to="legal/%Y/", blank=True)
    document_name = models.CharField(max_length=200, blank=True, help_text="The file's name as it was sent.")
    document_sha256 = models.CharField(max_length=64, blank=True, help_text="Proves the document was not changed.")
    orders = models.JSONField(default=list, help_text="What it orders: shut_down, suspend_ip, preserve, provide_data.")
    customer = models.ForeignKey("accounts.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("services.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    address = models.GenericIPAddressField(null=True, blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    measures = models.JSONField(
        default=dict,
        help_text="What was carried out for each ordered action: when, by whom, and the measure it made "
        "(null route, suspended service, hold, export).",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        permissions = [("legal", "Can see and act on legal orders, holds' orders and data exports")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.issuer} {self.reference}"


class LegalExport(models.Model):
    """A data export for an authority: a zip whose manifest lists each file's SHA-256; who made it and why."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("lx"), editable=False)
    order = models.ForeignKey(LegalOrder, on_delete=models.PROTECT, related_name="exports")
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    file = models.FileField(upload_to="legal/exports/%Y/")
    sha256 = models.CharField(max_length=64)
    made_by = models.CharField(max_length=255)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id} for {self.order_id}"


class TrustedReporter(models.Model):
    """A complainant whose structured reports (ARF, X-ARF) open cases and may lead to automatic measures.

    Matched on a domain our own mail server verified (DKIM or DMARC pass in its Authentication-Results
    header); the domain's subdomains count too. Anyone else's report waits for a person (issue 14, item 5).
    """

    domain = models.CharField(max_length=253, unique=True)
    name = models.CharField(max_length=100)
    note = models.CharField(max_length=500, blank=True)
    added_by = models.CharField(max_length=255)
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"


class RepeatOffence(models.Model):
    """A customer reached the Terms' repeat-offence threshold (``abuse.repeat_offence``, TOS-ABUSE-2): the cases
    that made it, and what followed: a proposal to staff, or the account's suspension. One per latest case, so
    a run repeated, or a second worker, records it once."""

    class Outcome(models.TextChoices):
        PROPOSED = "proposed", "Proposed to staff"
        SUSPENDED = "suspended", "Account suspended"
        DISMISSED = "dismissed", "Dismissed by staff"

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("rpo"), editable=False)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="repeat_offences")
    latest_case = models.OneToOneField(AbuseCase, on_delete=models.PROTECT, related_name="repeat_offence")
    cases = models.JSONField(default=list, help_text="The cases within the window, oldest first.")
    detected_at = models.DateTimeField()
    terms_version = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id} {self.outcome}"
