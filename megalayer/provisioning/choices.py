"""Host and operation statuses and their transition tables."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable, any_to_any


class HostStatus(models.TextChoices):
    ACTIVE = "active", "Active: takes new servers"
    DRAINING = "draining", "Draining: keeps its servers, takes no new ones"
    DISABLED = "disabled", "Disabled"


HOST_STATUS = StatusTable(
    "provisioning.Host",
    HostStatus,
    any_to_any(HostStatus),  # an operator's setting (back office, admin)
    requirement="TOS-AUDIT-1",
)


class OperationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPERATION_STATUS = StatusTable(
    "provisioning.Operation",
    OperationStatus,
    {
        # A worker claims a due attempt; staff cancel what has not started (or failed); it fails for good without
        # an attempt when the service is gone or the fee is unpaid.
        OperationStatus.PENDING: frozenset(
            {OperationStatus.RUNNING, OperationStatus.CANCELLED, OperationStatus.FAILED}
        ),
        # The attempt ends: done, failed for good, or back to pending for a retry (a retryable error, or the
        # lease of a worker that died ran out).
        OperationStatus.RUNNING: frozenset(
            {OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.PENDING}
        ),
        # A failed operation that staff retry, or cancel.
        OperationStatus.FAILED: frozenset({OperationStatus.PENDING, OperationStatus.CANCELLED}),
        OperationStatus.SUCCEEDED: frozenset(),
        OperationStatus.CANCELLED: frozenset(),
    },
    requirement="TOS-AUDIT-1",
)


class LineKind(models.TextChoices):
    """The invoice line kinds provisioning owns: a reinstall's fee beyond the month's free one (TOS-REINSTALL-1)."""

    REINSTALL_FEE = "reinstall_fee", "Reinstall fee"
    TRAFFIC_OVERAGE = "traffic_overage", "Traffic past the allowance"


class MachineState(models.TextChoices):
    """A physical machine's place in its life (issue 19). Only ``available`` machines are given to orders."""

    AVAILABLE = "available", "Available"
    RESERVED = "reserved", "Reserved for an order"
    PROVISIONING = "provisioning", "Installing"
    IN_SERVICE = "in_service", "In service"
    MAINTENANCE = "maintenance", "Maintenance"
    BROKEN = "broken", "Broken"


MACHINE_STATE = StatusTable(
    "provisioning.Machine",
    MachineState,
    {
        # Given to an order (under a row lock that skips machines other orders hold), or taken out by staff.
        MachineState.AVAILABLE: frozenset({MachineState.RESERVED, MachineState.MAINTENANCE, MachineState.BROKEN}),
        # The install starts; the order is refunded or cancelled before it did; a step fails.
        MachineState.RESERVED: frozenset(
            {MachineState.PROVISIONING, MachineState.IN_SERVICE, MachineState.AVAILABLE, MachineState.MAINTENANCE}
        ),
        MachineState.PROVISIONING: frozenset({MachineState.IN_SERVICE, MachineState.MAINTENANCE}),
        # Back to the pool only through the wipe (``machine_release``); a failed step means maintenance.
        MachineState.IN_SERVICE: frozenset({MachineState.AVAILABLE, MachineState.MAINTENANCE}),
        # Staff finish the repair (or give up on the machine).
        MachineState.MAINTENANCE: frozenset({MachineState.AVAILABLE, MachineState.IN_SERVICE, MachineState.BROKEN}),
        MachineState.BROKEN: frozenset({MachineState.MAINTENANCE}),
    },
    field="state",
    requirement="TOS-AUDIT-1",
)
