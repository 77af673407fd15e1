"""Service statuses, the transition table of architecture.md, and the commercial reasons kept apart."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    TERMINATING = "terminating", "Terminating"
    TERMINATED = "terminated", "Terminated"
    FAILED = "failed", "Failed"


TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.PROVISIONING, Status.TERMINATED}),
    Status.PROVISIONING: frozenset({Status.ACTIVE, Status.FAILED}),
    Status.FAILED: frozenset({Status.PROVISIONING}),
    Status.ACTIVE: frozenset({Status.SUSPENDED, Status.TERMINATING}),
    Status.SUSPENDED: frozenset({Status.ACTIVE, Status.TERMINATING}),
    Status.TERMINATING: frozenset({Status.TERMINATED}),
    Status.TERMINATED: frozenset(),
}
SERVICE_STATUS = StatusTable("services.Service", Status, TRANSITIONS, requirement="TOS-TERM-1")


class Reason(models.TextChoices):
    """Why a service is not simply active: the commercial reason, separate from the status."""

    NONE = "", "—"
    OVERDUE = "overdue", "Overdue"
    ABUSE = "abuse", "Abuse"
    VIOLATION = "violation", "Violation of the Terms"
    STAFF = "staff", "Staff decision"
    RENEWAL_DENIED = "renewal_denied", "Renewal denied"
    REFUSED = "refused", "Order refused"
    TRAFFIC = "traffic", "Traffic allowance used up"


class Effect(models.TextChoices):
    """One automated step of a service's billing period; each happens once per (service, period)."""

    RENEWAL_INVOICE = "renewal_invoice", "Renewal invoice"
    REMINDER = "reminder", "Renewal reminder"
    AUTO_RENEW = "auto_renew", "Renewed from balance"
    EXPIRE = "expire", "Expired"
    SUSPEND = "suspend", "Suspended for non-payment"
    TERMINATE = "terminate", "Terminated, data deleted"
    HELD = "held", "Deletion stopped by a legal hold"


class LineKind(models.TextChoices):
    """The invoice line kinds the services app owns (billing's registry runs their handlers when paid)."""

    RENEWAL = "renewal", "Renewal"
