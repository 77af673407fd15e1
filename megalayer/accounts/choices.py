"""Account and approval statuses and their transition tables."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


CUSTOMER_STATUS = StatusTable(
    "accounts.Customer",
    CustomerStatus,
    {
        # Suspended by the abuse desk (TOS-ABUSE-2); closed by a violation (TOS-VIOLATION-1) or the customer's
        # erasure request (TOS-PRIVACY-1); a cancelled erasure request restores the status it found.
        CustomerStatus.ACTIVE: frozenset({CustomerStatus.SUSPENDED, CustomerStatus.CLOSED}),
        CustomerStatus.SUSPENDED: frozenset({CustomerStatus.ACTIVE, CustomerStatus.CLOSED}),
        CustomerStatus.CLOSED: frozenset({CustomerStatus.ACTIVE, CustomerStatus.SUSPENDED}),
    },
    requirement="TOS-ABUSE-2",
)


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second staff member"
    APPROVED = "approved", "Approved and carried out"
    REJECTED = "rejected", "Rejected"


APPROVAL_STATUS = StatusTable(
    "accounts.Approval",
    ApprovalStatus,
    {
        ApprovalStatus.PENDING: frozenset({ApprovalStatus.APPROVED, ApprovalStatus.REJECTED}),
        ApprovalStatus.APPROVED: frozenset(),
        ApprovalStatus.REJECTED: frozenset(),
    },
    requirement="TOS-SEC-1",
)
