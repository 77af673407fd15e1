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
    CANCELLED = "cancelled", "Cancelled by the customer"


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


class CancelWhen(models.TextChoices):
    """When a customer's cancellation takes effect (issue 20): at the end of the paid term, or at once."""

    END_OF_TERM = "end_of_term", "At the end of the paid term"
    NOW = "now", "Now"


class CancelReason(models.TextChoices):
    """Why the customer leaves, for the operator's churn figures (the free text says more)."""

    NOT_NEEDED = "not_needed", "No longer needed"
    PRICE = "price", "Too expensive"
    PERFORMANCE = "performance", "Performance or network quality"
    SUPPORT = "support", "Support"
    MOVING = "moving", "Moving to another provider"
    OTHER = "other", "Other"


class CancelStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    WITHDRAWN = "withdrawn", "Withdrawn"
    DONE = "done", "Carried out"


CANCEL_STATUS = StatusTable(
    "services.Cancellation",
    CancelStatus,
    {
        CancelStatus.PENDING: frozenset({CancelStatus.WITHDRAWN, CancelStatus.DONE}),
        CancelStatus.WITHDRAWN: frozenset(),
        CancelStatus.DONE: frozenset(),
    },
    requirement="TOS-TERM-1",
)
