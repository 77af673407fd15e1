"""The periodic jobs, run by the worker's scheduler loop (``megalayer worker``).

Each entry runs every ``every`` seconds. A run is claimed by inserting a
``ScheduledRun`` row keyed by (name, slot), so with any number of workers on
any number of hosts, each slot runs once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.tasks import Task

from megalayer.abuse.tasks import abuse_deadlines_task
from megalayer.affiliates.tasks import commissions_run_task
from megalayer.billing.tasks import payments_apply_pending_task
from megalayer.notices.tasks import notices_deliver_due_task
from megalayer.orders.tasks import orders_cancel_unpaid_task
from megalayer.privacy.tasks import erasures_run_due_task
from megalayer.provisioning.tasks import (
    hosts_reconcile_task,
    machines_assign_task,
    operations_run_due_task,
    snapshot_schedules_task,
    traffic_sample_task,
)
from megalayer.services.tasks import automation_run_task
from megalayer.support.tasks import tickets_auto_close_task
from megalayer.webhooks.tasks import webhooks_deliver_due_task


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    task: Task[Any, Any]
    every: int  # seconds


SCHEDULE: tuple[Schedule, ...] = (
    Schedule(name="notices.deliver_due", task=notices_deliver_due_task, every=60),
    # Webhook deliveries go as soon as their event commits; this sweep sends the retries and takes back lost ones.
    Schedule(name="webhooks.deliver_due", task=webhooks_deliver_due_task, every=15),
    Schedule(name="billing.apply_pending_payments", task=payments_apply_pending_task, every=300),
    Schedule(name="services.automation", task=automation_run_task, every=300),
    # Operations normally run as soon as they are requested; this sweep retries and takes back lost attempts.
    Schedule(name="provisioning.run_due", task=operations_run_due_task, every=15),
    Schedule(name="provisioning.reconcile", task=hosts_reconcile_task, every=900),
    Schedule(name="provisioning.traffic", task=traffic_sample_task, every=3600),
    Schedule(name="provisioning.snapshot_schedules", task=snapshot_schedules_task, every=900),
    # Dedicated orders waiting for a machine: served when one frees up (enqueued then); this sweep catches a
    # lost enqueue.
    Schedule(name="provisioning.machines_assign", task=machines_assign_task, every=300),
    Schedule(name="support.auto_close", task=tickets_auto_close_task, every=3600),
    Schedule(name="abuse.deadlines", task=abuse_deadlines_task, every=300),
    Schedule(name="privacy.erasures", task=erasures_run_due_task, every=3600),
    Schedule(name="affiliates.commissions", task=commissions_run_task, every=3600),
    Schedule(name="orders.cancel_unpaid", task=orders_cancel_unpaid_task, every=3600),
)
