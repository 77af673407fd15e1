"""Queue entry points of provisioning: thin, take ids, safe to run twice (the row decides)."""

from __future__ import annotations

from django.tasks import task

from megalayer.provisioning.actions import machines_assign_waiting
from megalayer.provisioning.actions.hosts import hosts_reconcile
from megalayer.provisioning.actions.runner import operation_run, operations_run_due
from megalayer.provisioning.actions.snapshots import snapshot_schedules_run
from megalayer.provisioning.actions.traffic import traffic_sample


@task()
def operation_run_task(operation_id: int) -> str:

    return operation_run(operation_id=operation_id)


@task()
def operations_run_due_task() -> dict[str, int]:

    return operations_run_due()


@task()
def hosts_reconcile_task() -> dict[str, int]:

    return hosts_reconcile()


@task()
def traffic_sample_task() -> int:

    return traffic_sample()


@task()
def snapshot_schedules_task() -> dict[str, int]:

    run = snapshot_schedules_run()
    return {"requested": run.requested, "pruned": run.pruned, "refused": run.refused}


@task()
def machines_assign_task() -> int:
    """Give machines that became available to the dedicated-server orders waiting for them (issue 19)."""
    return machines_assign_waiting()
