"""Ticket statuses and priorities (TOS-TICKET-1)."""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered"
    CUSTOMER_REPLY = "customer_reply", "Customer reply"
    ON_HOLD = "on_hold", "On hold"
    CLOSED = "closed", "Closed"


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
