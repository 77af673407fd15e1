"""Running operations (the worker's side): claim a due attempt, call the driver outside any transaction,
record the outcome through the operation's status table, retry with back-off, give back the leases of dead
workers. The requests that create operations are in ``provisioning.actions``."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from megalayer.audit.actions import audit_record
from megalayer.catalog.models import OsImage
from megalayer.core import clock
from megalayer.core.outbox import backoff
from megalayer.notices.actions import notice_for_staff
from megalayer.provisioning.actions import OPEN, PASSWORD_KINDS, SYSTEM, Kind, OpStatus, _enqueue, _image_ref
from megalayer.provisioning.actions.hosts import host_driver
from megalayer.provisioning.actions.machines import machine_failed, machine_installed, machine_installing
from megalayer.provisioning.actions.reinstall import reinstall_failed_on_our_side
from megalayer.provisioning.choices import OPERATION_STATUS
from megalayer.provisioning.drivers.base import (
    Driver,
    DriverError,
    IsoRef,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
    TerminalError,
)
from megalayer.provisioning.models import Operation, Server
from megalayer.services import actions as services
from megalayer.services.models import Service
from megalayer.services.notices import notice_service

logger = logging.getLogger(__name__)


def retry_delay(attempts: int) -> dt.timedelta:
    """Back-off after the n-th failed attempt: 15 s, 30 s, 1 min, 2 min … at most 15 minutes."""
    return backoff(attempts, first_seconds=15, factor=2, cap_seconds=900)


def lease_for(driver_timeout: float) -> dt.timedelta:
    """How long a running attempt may hold its row before the sweep takes it back (a killed worker)."""
    return dt.timedelta(seconds=driver_timeout + 60)


def _claim(operation_id: int, lease: dt.timedelta) -> Operation | None:
    """Compare-and-set pending → running for a due operation whose earlier siblings are all done."""
    now = clock.now()
    operation = Operation.objects.filter(pk=operation_id).select_related("service").first()
    if operation is None or operation.status != OpStatus.PENDING:
        return None
    if operation.next_attempt_at and operation.next_attempt_at > now:
        return None
    earlier = Operation.objects.filter(service_id=operation.service_id, pk__lt=operation.pk, status__in=OPEN)
    if earlier.exists():
        return None  # the service's earlier operation runs first; its end enqueues this one
    claimed = OPERATION_STATUS.claim(
        Operation.objects.filter(pk=operation_id, attempts=operation.attempts),
        sources=[OpStatus.PENDING],
        target=OpStatus.RUNNING,
        attempts=F("attempts") + 1,
        lease_until=now + lease,
        started_at=now if operation.started_at is None else operation.started_at,
    )
    if not claimed:
        return None
    operation.refresh_from_db()
    return operation


def _log(operation: Operation, message: str, **fields: Any) -> list[dict[str, Any]]:
    return [*operation.log, {"at": clock.now().isoformat(), "message": message}]


def operation_run(*, operation_id: int) -> str:
    """Run one due operation once: claim, call the driver, record the outcome. Returns the status it ends in
    ("skipped" when it was not due, not first in line, or held by another worker)."""
    operation = Operation.objects.select_related("service").filter(pk=operation_id).first()
    if operation is None:
        return "skipped"
    server = Server.objects.select_related("host").filter(service=operation.service).first()
    if server is None:
        return _fail(operation, "the service has no server record", attempted=False)
    try:
        driver = host_driver(server.host)
    except DriverError as error:
        return _fail(operation, f"host {server.host.name}: {error}", attempted=False)
    claimed = _claim(operation_id, lease_for(driver.timeout))
    if claimed is None:
        return "skipped"
    operation = claimed
    if operation.kind == Kind.CREATE:
        machine_installing(server)  # bare metal: reserved → provisioning
    Operation.objects.filter(pk=operation.pk).update(
        log=_log(operation, f"attempt {operation.attempts} on {server.host.name} ({driver.name})")
    )
    operation.refresh_from_db()
    try:
        result = _perform(operation, server, driver)
    except DriverError as error:
        return _driver_failed(operation, error)
    except Exception as error:  # a bug or an unexpected library error: retried, bounded, and logged
        logger.exception("operation.crashed", extra={"operation": operation.public_id})
        return _driver_failed(operation, error)
    _succeed(operation, server, result)
    return OpStatus.SUCCEEDED


def operation_spec(operation: Operation, server: Server) -> ServerSpec:

    service = operation.service
    image = OsImage.objects.get(code=operation.parameters.get("image") or server.image)
    held = service.ip_assignments.filter(released_at__isnull=True).order_by("pk")
    addresses = tuple(held.filter(prefix_length__isnull=True).values_list("address", flat=True))
    prefixes = tuple(
        f"{a}/{n}" for a, n in held.filter(prefix_length__isnull=False).values_list("address", "prefix_length")
    )
    return ServerSpec(
        name=server.name,
        hostname=service.hostname or f"{server.name}.{settings.MEGALAYER_SERVER_DOMAIN}",
        vcpus=server.vcpus,
        memory_mib=server.memory_gb * 1024,
        disk_gib=server.disk_gb,
        image=_image_ref(image),
        addresses=addresses,
        root_password=str(operation.secrets.get("root_password", "")),
        ssh_keys=tuple(str(k) for k in operation.parameters.get("ssh_keys") or ()),
        user_data=str(operation.secrets.get("user_data", "")),
        ipv6_prefixes=prefixes,
    )


def _perform(operation: Operation, server: Server, driver: Driver) -> dict[str, Any]:
    """The driver call of each kind; returns what the operation records as its result."""
    kind, name = operation.kind, server.name
    info: ServerInfo | None = None
    result: dict[str, Any] = {}
    if kind == Kind.CREATE:
        info = driver.create(operation_spec(operation, server))
    elif kind == Kind.REINSTALL:
        image = OsImage.objects.get(code=operation.parameters["os_image"])
        info = driver.reinstall(
            name,
            _image_ref(image),
            root_password=str(operation.secrets.get("root_password", "")),
            ssh_keys=tuple(str(k) for k in operation.parameters.get("ssh_keys") or ()),
            user_data=str(operation.secrets.get("user_data", "")),
        )
    elif kind == Kind.POWER_ON:
        info = driver.power_on(name)
    elif kind == Kind.POWER_OFF:
        info = driver.power_off(name, soft_timeout=float(operation.parameters.get("soft_timeout", 60)))
    elif kind == Kind.REBOOT:
        info = driver.reboot(name)
    elif kind == Kind.SUSPEND:
        info = driver.suspend(name)
    elif kind == Kind.RESUME:
        info = driver.resume(name)
    elif kind == Kind.DESTROY:
        result["wiped"] = driver.destroy(name, wipe=True)
    elif kind == Kind.SNAPSHOT_CREATE:
        made = driver.snapshot_create(name, operation.parameters["snapshot"])
        result["snapshot"] = {"name": made.name, "created_at": made.created_at.isoformat()}
    elif kind == Kind.SNAPSHOT_RESTORE:
        info = driver.snapshot_restore(name, operation.parameters["snapshot"])
    elif kind == Kind.SNAPSHOT_DELETE:
        with contextlib.suppress(ServerNotFound):  # gone already
            driver.snapshot_delete(name, operation.parameters["snapshot"])
    elif kind == Kind.RESCUE_ENTER:
        info = driver.rescue_enter(name, root_password=str(operation.secrets.get("root_password", "")))
    elif kind == Kind.RESCUE_EXIT:
        info = driver.rescue_exit(name)
    elif kind == Kind.ISO_INSERT:
        info = driver.iso_insert(name, IsoRef(code=operation.parameters["iso"]))
    elif kind == Kind.ISO_EJECT:
        info = driver.iso_eject(name)
    elif kind == Kind.THROTTLE:
        info = driver.bandwidth_limit(name, operation.parameters.get("mbps"))
    elif kind == Kind.EVIDENCE_COPY:
        copy = driver.evidence_copy(name, operation.parameters.get("label", operation.public_id))
        result["evidence"] = {"name": copy.name, "location": copy.location, "created_at": copy.created_at.isoformat()}
    else:
        raise TerminalError(f"unknown operation kind {kind}")
    if info is not None:
        result["server"] = {k: str(v) if not isinstance(v, bool) else v for k, v in asdict(info).items()}
    return result


def _succeed(operation: Operation, server: Server, result: dict[str, Any]) -> None:
    now = clock.now()
    with transaction.atomic():
        # The new root password stays until the customer has seen it once (``password_reveal``).
        kept = {"root_password": operation.secrets["root_password"]} if "root_password" in operation.secrets else {}
        updated = OPERATION_STATUS.claim(
            Operation.objects.filter(pk=operation.pk),
            sources=[OpStatus.RUNNING],
            target=OpStatus.SUCCEEDED,
            result=result,
            secrets=kept if operation.kind in PASSWORD_KINDS else {},
            finished_at=now,
            lease_until=None,
            error="",
            log=_log(operation, "done"),
        )
        if not updated:
            return  # the lease expired and another worker finished it
        state = result.get("server")
        fields: dict[str, Any] = {"last_seen_at": now}
        if state:
            fields.update(
                power=state["power"],
                image=state["image"] or server.image,
                disk_id=state["disk_id"],
                network_suspended=state["network_suspended"],
                rescue=bool(state.get("rescue", False)),
                iso=state.get("iso", ""),
            )
        if operation.kind == Kind.CREATE:
            fields["built_at"] = now
            machine_installed(server)
        if operation.kind in (Kind.CREATE, Kind.REINSTALL):
            # An older unseen password no longer opens anything: only the newest one is kept.
            Operation.objects.filter(service_id=operation.service_id, pk__lt=operation.pk).exclude(secrets={}).update(
                secrets={}
            )
        if operation.kind == Kind.RESCUE_EXIT:
            # The rescue system's password opened nothing after it ended: never show it now.
            Operation.objects.filter(service_id=operation.service_id, kind=Kind.RESCUE_ENTER).exclude(
                secrets={}
            ).update(secrets={})
        if operation.kind == Kind.THROTTLE:
            fields["bandwidth_limit_mbps"] = operation.parameters.get("mbps")
        if operation.kind == Kind.REINSTALL:
            fields["snapshots"] = []  # the disk they belonged to is gone
        if operation.kind == Kind.SNAPSHOT_CREATE:
            fields["snapshots"] = [*server.snapshots, result["snapshot"]]
        if operation.kind == Kind.SNAPSHOT_DELETE:
            fields["snapshots"] = [s for s in server.snapshots if s["name"] != operation.parameters["snapshot"]]
        if operation.kind == Kind.DESTROY:
            fields.update(destroyed_at=now, disk_wiped=bool(result.get("wiped")), power="stopped")
        Server.objects.filter(pk=server.pk).update(**fields)
        _service_effect(operation, succeeded=True, error="")
    _enqueue_next(operation)


def _driver_failed(operation: Operation, error: BaseException) -> str:
    retryable = not isinstance(error, DriverError) or error.retryable
    message = f"{type(error).__name__}: {error}"[:2000]
    if retryable and operation.attempts < operation.max_attempts:
        delay = retry_delay(operation.attempts)
        next_at = clock.now() + delay
        updated = OPERATION_STATUS.claim(
            Operation.objects.filter(pk=operation.pk),
            sources=[OpStatus.RUNNING],
            target=OpStatus.PENDING,
            next_attempt_at=next_at,
            lease_until=None,
            error=message,
            log=_log(
                operation, f"attempt {operation.attempts} failed ({message}); next in {int(delay.total_seconds())} s"
            ),
        )
        if updated:
            operation.refresh_from_db()
            _enqueue(operation)
        return OpStatus.PENDING
    why = message if not retryable else f"{message} (after {operation.attempts} attempts)"
    return _fail(operation, why, attempted=True)


def _fail(operation: Operation, message: str, *, attempted: bool) -> str:
    """Fail for good: record, undo what the operation's effect needs undone, tell staff."""
    now = clock.now()
    with transaction.atomic():
        updated = OPERATION_STATUS.claim(
            Operation.objects.filter(pk=operation.pk),
            sources=OPEN,
            target=OpStatus.FAILED,
            error=message[:2000],
            finished_at=now,
            lease_until=None,
            secrets={},
            log=_log(operation, f"failed: {message}"),
        )
        if not updated:
            return "skipped"
        operation.refresh_from_db()
        audit_record(
            actor=SYSTEM,
            action="operation.failed",
            target_type="service",
            target_id=operation.service.public_id,
            requirement="TOS-AUDIT-1",
            data={"operation": operation.public_id, "kind": operation.kind, "error": message[:500]},
        )
        _service_effect(operation, succeeded=False, error=message)
        server = Server.objects.filter(service=operation.service).first()
        if server is not None:
            machine_failed(server, message)  # bare metal: the machine needs a person before it is used again
        _alert_staff(operation)
    _enqueue_next(operation)
    return OpStatus.FAILED


def _alert_staff(operation: Operation) -> None:

    notice_for_staff(
        kind="operation_failed",
        dedupe_key=f"operation_failed:{operation.public_id}:{operation.attempts}",
        context={"operation": operation, "service": operation.service},
    )


def _service_effect(operation: Operation, *, succeeded: bool, error: str) -> None:
    """What an operation's end means for the service (inside the outcome's transaction)."""

    service = operation.service
    kind = operation.kind
    if kind == Kind.CREATE:
        if succeeded:
            services.service_activate(service=service, password=None)
        else:
            services.service_provisioning_failed(service=service, error=error)
    elif kind == Kind.DESTROY and succeeded:
        services.service_destroyed(service=service)
    elif kind == Kind.REINSTALL and not succeeded:
        reinstall_failed_on_our_side(operation=operation, error=error, staff_or_system=SYSTEM)
    elif kind == Kind.REINSTALL and succeeded:
        image = OsImage.objects.get(code=operation.parameters["os_image"])
        Service.objects.filter(pk=service.pk).update(os_image=image)
        notice_service(service=service, kind="reinstall_done", detail=operation.public_id, extra={"image": image})


def _enqueue_next(operation: Operation) -> None:
    following = (
        Operation.objects.filter(service_id=operation.service_id, status=OpStatus.PENDING, pk__gt=operation.pk)
        .order_by("pk")
        .first()
    )
    if following is not None:
        _enqueue(following)


def operations_release_expired() -> int:
    """Running rows whose lease ran out belong to a worker that died: give them back (the attempt counts)."""
    now = clock.now()
    expired = list(Operation.objects.filter(status=OpStatus.RUNNING, lease_until__lt=now))
    for operation in expired:
        OPERATION_STATUS.claim(
            Operation.objects.filter(pk=operation.pk, lease_until__lt=now),
            sources=[OpStatus.RUNNING],
            target=OpStatus.PENDING,
            next_attempt_at=now,
            lease_until=None,
            log=_log(operation, f"attempt {operation.attempts} lost (worker gone); taken back"),
        )
    return len(expired)


def operations_run_due(limit: int = 200) -> dict[str, int]:
    """The periodic sweep: take back lost attempts, then run every due operation, oldest first."""
    counts: dict[str, int] = {"released": operations_release_expired()}
    due = (
        Operation.objects.filter(status=OpStatus.PENDING, next_attempt_at__lte=clock.now())
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for operation_id in list(due):
        outcome = operation_run(operation_id=operation_id)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
