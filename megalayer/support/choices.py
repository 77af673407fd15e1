"""Ticket statuses and priorities (TOS-TICKET-1)."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable, any_to_any


class Status(models.TextChoices):
    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered"
    CUSTOMER_REPLY = "customer_reply", "Customer reply"
    ON_HOLD = "on_hold", "On hold"
    CLOSED = "closed", "Closed"


TICKET_STATUS = StatusTable(
    "support.Ticket",
    Status,
    # A reply moves a ticket (staff: answered; customer: customer reply, reopening a closed one by mail), the
    # customer closes and reopens, staff set any status, idle answered tickets close: every state to every other.
    any_to_any(Status),
    requirement="TOS-TICKET-1",
)


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Via(models.TextChoices):
    WEB = "web", "Client area"
    EMAIL = "email", "E-mail"
    API = "api", "API"
    STAFF = "staff", "Back office"
    SYSTEM = "system", "Automatic"


WAITING_ON_STAFF = (Status.OPEN, Status.CUSTOMER_REPLY)
