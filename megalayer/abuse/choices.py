"""Abuse categories (TOS-AUP-1), report sources and parse outcomes, case statuses."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable
from megalayer.terms.choices import AbuseCategory as Category

__all__ = ["CASE_STATUS", "OPEN_CASE_STATUSES", "CaseStatus", "Category", "LineKind", "Parser", "Source"]


class Source(models.TextChoices):
    MAIL = "mail", "Abuse mailbox"
    API = "api", "API"
    STAFF = "staff", "Staff"


class Parser(models.TextChoices):
    ARF = "arf", "ARF (RFC 5965)"
    XARF = "xarf", "X-ARF v3"
    FREETEXT = "freetext", "Free text"
    NONE = "none", "Not parsed"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open: waiting for the customer"
    ANSWERED = "answered", "Answered by the customer"
    ESCALATED = "escalated", "Escalated"
    CLOSED = "closed", "Closed"


OPEN_CASE_STATUSES = (CaseStatus.OPEN, CaseStatus.ANSWERED, CaseStatus.ESCALATED)

CASE_STATUS = StatusTable(
    "abuse.AbuseCase",
    CaseStatus,
    {
        # The customer answers; the deadline passes unanswered (escalated, TOS-ABUSE-2); staff close it, or the
        # enforcement that ends it (termination, account closure) does.
        CaseStatus.OPEN: frozenset({CaseStatus.ANSWERED, CaseStatus.ESCALATED, CaseStatus.CLOSED}),
        CaseStatus.ANSWERED: frozenset({CaseStatus.ESCALATED, CaseStatus.CLOSED}),
        CaseStatus.ESCALATED: frozenset({CaseStatus.CLOSED}),
        CaseStatus.CLOSED: frozenset(),
    },
    requirement="TOS-ABUSE-2",
)


class LineKind(models.TextChoices):
    """The invoice line kinds the abuse desk owns."""

    INFRACTION_FEE = "infraction_fee", "Infraction fee"
