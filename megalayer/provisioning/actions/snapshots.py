"""Scheduled snapshots (issue 18): a priced add-on (``AddOn.Kind.SNAPSHOTS``, ordered with the server) lets a
customer have their server snapshotted daily or weekly, the newest ``keep`` kept, where the host's driver
takes snapshots. The Terms' warning stays true and stays visible: a snapshot lives on the same host, so it is
not a backup (TOS-BACKUP-1).

``snapshot_schedules_run`` (hourly, by the worker) asks, for each due schedule, for one snapshot operation
keyed by the server and the period (the day, or the ISO week): a rerun, a second worker or a killed run never
takes a second one. Then it deletes the schedule's own snapshots (named ``auto-…``) beyond ``keep``, oldest
first; the customer's own snapshots are never touched, and nothing is deleted while a legal hold covers the
server (the operation is refused then, and tried again on the next run).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.catalog.models import AddOn
from megalayer.core import clock
from megalayer.core.errors import DomainError, InvalidInput, RuleRefused
from megalayer.provisioning.actions import SCHEDULED_PREFIX, live_server, operation_request, require_snapshots
from megalayer.provisioning.models import Operation, Server, SnapshotSchedule
from megalayer.services.choices import Status
from megalayer.services.models import Service

ACTOR = Actor.system("snapshots")
MAX_KEEP = 30


def schedule_allowed(service: Service) -> bool:
    """Whether the service was ordered with the scheduled-snapshots add-on."""
    codes = [item["code"] for item in service.add_ons]
    return AddOn.objects.filter(code__in=codes, kind=AddOn.Kind.SNAPSHOTS).exists()


def snapshot_schedule_set(*, service: Service, frequency: str, keep: int, hour: int, actor: Actor) -> SnapshotSchedule:
    """Create or change the service's schedule; refused (nothing written) without the add-on or on a host
    that takes no snapshots."""
    if frequency not in SnapshotSchedule.Frequency.values:
        raise InvalidInput("Choose daily or weekly.", field="frequency")
    if not 1 <= keep <= MAX_KEEP:
        raise InvalidInput(f"Keep between 1 and {MAX_KEEP} snapshots.", field="keep")
    if not 0 <= hour <= 23:
        raise InvalidInput("Choose an hour from 0 to 23.", field="hour")
    if service.status != Status.ACTIVE:
        raise RuleRefused(
            "Only an active server can be scheduled.", rule="service-not-active", requirement="TOS-BACKUP-1"
        )
    if not schedule_allowed(service):
        raise RuleRefused(
            "Scheduled snapshots are an add-on: order the server with it to schedule snapshots.",
            rule="add-on-required",
            requirement="TOS-BACKUP-1",
        )
    require_snapshots(live_server(service))
    now = clock.now()
    with transaction.atomic():
        schedule, _ = SnapshotSchedule.objects.update_or_create(
            service=service,
            defaults={"frequency": frequency, "keep": keep, "hour": hour, "enabled": True, "updated_at": now},
            create_defaults={
                "frequency": frequency,
                "keep": keep,
                "hour": hour,
                "enabled": True,
                "created_at": now,
                "updated_at": now,
            },
        )
        audit_record(
            actor=actor,
            action="server.snapshot_schedule_set",
            target_type="service",
            target_id=service.public_id,
            requirement="TOS-BACKUP-1",
            data={"frequency": frequency, "keep": keep, "hour": hour},
        )
    return schedule


def snapshot_schedule_stop(*, service: Service, actor: Actor) -> None:
    """Turn the schedule off; its snapshots stay until the customer deletes them."""
    with transaction.atomic():
        if SnapshotSchedule.objects.filter(service=service, enabled=True).update(enabled=False, updated_at=clock.now()):
            audit_record(
                actor=actor,
                action="server.snapshot_schedule_stopped",
                target_type="service",
                target_id=service.public_id,
                requirement="TOS-BACKUP-1",
            )


def _period(schedule: SnapshotSchedule, now: dt.datetime) -> tuple[str, str] | None:
    """The period due now and the snapshot's name, or None before the schedule's hour (weekly: Mondays)."""
    local = now.astimezone(clock.provider_zone())
    if local.hour < schedule.hour:
        return None
    if schedule.frequency == SnapshotSchedule.Frequency.DAILY:
        return f"{local:%Y-%m-%d}", f"{SCHEDULED_PREFIX}{local:%Y%m%d}"
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}", f"{SCHEDULED_PREFIX}{year}w{week:02d}"


@dataclass
class ScheduleRun:
    requested: int = 0
    pruned: int = 0
    refused: int = 0


def snapshot_schedules_run() -> ScheduleRun:
    """Each enabled schedule of an active service: this period's snapshot, then the pruning."""
    now = clock.now()
    run = ScheduleRun()
    schedules = SnapshotSchedule.objects.filter(enabled=True, service__status=Status.ACTIVE).select_related("service")
    for schedule in schedules:
        server = (
            Server.objects.select_related("host").filter(service=schedule.service, destroyed_at__isnull=True).first()
        )
        due = _period(schedule, now)
        if server is None or server.built_at is None or due is None:
            continue
        period, name = due
        key = f"{server.name}:scheduled-snapshot:{period}"
        taking = ""
        if not Operation.objects.filter(idempotency_key=key).exists() and all(
            s["name"] != name for s in server.snapshots
        ):
            try:
                operation_request(
                    service=schedule.service,
                    kind=Operation.Kind.SNAPSHOT_CREATE,
                    actor=ACTOR,
                    idempotency_key=key,
                    parameters={"snapshot": name, "scheduled": True},
                )
            except DomainError:
                run.refused += 1
                continue
            run.requested += 1
            taking = name
        run.pruned += _prune(schedule, server, taking, run)
    return run


def _prune(schedule: SnapshotSchedule, server: Server, taking: str, run: ScheduleRun) -> int:
    """Delete the schedule's own snapshots beyond ``keep`` (counting the one being taken now), oldest first:
    one operation each, keyed by name. Operations of a server run in order, so the new one exists first."""
    own = sorted(
        (s for s in server.snapshots if str(s["name"]).startswith(SCHEDULED_PREFIX)), key=lambda s: str(s["created_at"])
    )
    pruned = 0
    for snapshot in own[: max(len(own) + bool(taking) - schedule.keep, 0)]:
        try:
            operation_request(
                service=schedule.service,
                kind=Operation.Kind.SNAPSHOT_DELETE,
                actor=ACTOR,
                idempotency_key=f"{server.name}:scheduled-prune:{snapshot['name']}",
                parameters={"snapshot": snapshot["name"], "scheduled": True},
            )
        except DomainError:  # a legal hold: nothing is deleted; tried again on the next run
            run.refused += 1
            continue
        pruned += 1
    return pruned
