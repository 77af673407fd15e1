"""The support desk: departments, tickets, messages (with internal notes) and attachments (TOS-TICKET-1)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from megalayer.core.ids import PublicIdFactory
from megalayer.support.choices import TICKET_STATUS, Priority, Status, Via


class Department(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    sort_order = models.PositiveSmallIntegerField(default=0)
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="departments", help_text="Staff told of new messages."
    )

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class CannedReply(models.Model):
    title = models.CharField(max_length=100)
    body = models.TextField()
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title


class Ticket(models.Model):
    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("tkt"), editable=False)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="tickets")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="tickets")
    service = models.ForeignKey(
        "services.Service", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True, help_text="Last staff reply (idle auto-close).")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["status", "answered_at"], name="ticket_idle_idx")]
        constraints = [TICKET_STATUS.constraint()]

    def __str__(self) -> str:
        return f"{self.public_id} {self.subject}"


class TicketMessage(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_email = models.EmailField(blank=True)
    from_staff = models.BooleanField(default=False)
    internal = models.BooleanField(default=False, help_text="A staff note the customer never sees.")
    body = models.TextField(help_text="Plain text or Markdown; rendered safely, never as a template.")
    via = models.CharField(max_length=16, choices=Via.choices, default=Via.WEB)
    mail_message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} #{self.pk}"


class Attachment(models.Model):
    """A file on a ticket message, stored through Django storage; served only to the ticket's customer and staff."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("att"), editable=False)
    message = models.ForeignKey(TicketMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="tickets/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.name
