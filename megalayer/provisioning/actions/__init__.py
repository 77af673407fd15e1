"""Every write of provisioning: placing a server on a host, requesting machine actions as operations,
running them (with retries, back-off and a lease), reconciling hosts with the database.

The ``Operation`` row is the truth. A request writes the row (and, for a
create, the ``Server`` row and its addresses) in the caller's transaction and
enqueues a run after commit; a lost task is found again by the periodic sweep
(``operations_run_due``). A run claims the row by compare-and-set, calls the
driver outside any transaction (a hypervisor call can take minutes), then
writes the outcome and its effect on the service in one transaction.
Operations of one service run in the order they were requested.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import string
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum

from megalayer.audit.actions import Actor, audit_record
from megalayer.catalog.models import AddOn, OsImage
from megalayer.core import clock
from megalayer.core.errors import DeletionHeld, InvalidInput, NotFound, RuleRefused
from megalayer.core.tasks import enqueue_on_commit
from megalayer.network.actions import ip_allocate
from megalayer.notices.actions import notice_for_staff
from megalayer.provisioning.choices import OPERATION_STATUS
from megalayer.provisioning.drivers import driver_for
from megalayer.provisioning.drivers.base import (
    Capability,
    Driver,
    DriverError,
    ImageRef,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
    TerminalError,
)
from megalayer.provisioning.models import Host, Operation, Server, TrafficSample
from megalayer.services import actions as services
from megalayer.services import hooks as services_hooks
from megalayer.services.actions import service_provisioning_retry
from megalayer.services.choices import Status
from megalayer.services.models import Service
from megalayer.services.notices import notice_service

logger = logging.getLogger(__name__)

Kind = Operation.Kind
OpStatus = Operation.Status
OPEN = (OpStatus.PENDING, OpStatus.RUNNING)
DEFAULT_MAX_ATTEMPTS = 5
SYSTEM = Actor.system("provisioning")
# What a customer may ask of their own server, and in which service statuses.
CUSTOMER_ACTIONS: dict[str, tuple[str, ...]] = {
    Kind.POWER_ON: (Status.ACTIVE,),
    Kind.POWER_OFF: (Status.ACTIVE,),
    Kind.REBOOT: (Status.ACTIVE,),
    Kind.SNAPSHOT_CREATE: (Status.ACTIVE,),
    Kind.SNAPSHOT_RESTORE: (Status.ACTIVE,),
    Kind.SNAPSHOT_DELETE: (Status.ACTIVE, Status.SUSPENDED),
}


def retry_delay(attempts: int) -> dt.timedelta:
    """Back-off after the n-th failed attempt: 15 s, 30 s, 1 min, 2 min … at most 15 minutes."""
    return dt.timedelta(seconds=min(15 * 2 ** max(attempts - 1, 0), 900))


def lease_for(driver_timeout: float) -> dt.timedelta:
    """How long a running attempt may hold its row before the sweep takes it back (a killed worker)."""
    return dt.timedelta(seconds=driver_timeout + 60)


def generate_password(length: int = 20) -> str:
    """A root / Administrator password that satisfies Windows' complexity rule too."""
    alphabet = string.ascii_letters + string.digits + "-_.+"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
        ):
            return candidate


def server_name(service: Service) -> str:
    """The driver's key for the machine: the service id, DNS-safe (Proxmox names must be host names)."""
    return service.public_id.replace("_", "-")


def host_driver(host: Host) -> Driver:
    return driver_for(host.driver, {k: str(v) for k, v in host.parameters.items()})


def host_driver_loaded(host: Host) -> tuple[Driver | None, str]:
    """The host's driver, or None and why not (bad parameters, a missing optional extra): pages and lists
    still show a host whose driver cannot load."""
    try:
        return host_driver(host), ""
    except (DriverError, ImportError) as error:
        return None, str(error)


# Hosts -----------------------------------------------------------------------------------------------------------


def host_save(
    *,
    staff: Any,
    name: str,
    driver: str,
    location: Any,
    parameters: dict[str, str],
    capacity_vcpus: int,
    capacity_memory_gb: int,
    capacity_disk_gb: int,
    status: str = Host.Status.ACTIVE,
    host: Host | None = None,
) -> Host:
    """Create or change a host; the parameters are checked against the driver's declaration first.

    A secret parameter left empty when editing keeps its stored value (forms never show secrets).
    """
    from megalayer.provisioning.drivers import DRIVERS, driver_class

    if driver not in DRIVERS:
        raise InvalidInput("Choose a driver.", field="driver")
    if not name.strip():
        raise InvalidInput("Name the host.", field="name")
    cls = driver_class(driver)
    if host is not None:
        for parameter in cls.parameters:
            if parameter.secret and not parameters.get(parameter.name):
                parameters[parameter.name] = str(host.parameters.get(parameter.name, ""))
    clean = {k: v for k, v in parameters.items() if v != ""}
    try:
        cls(clean)
    except TerminalError as error:
        raise InvalidInput(str(error), field="parameters") from error
    for field, value in (
        ("capacity_vcpus", capacity_vcpus),
        ("capacity_memory_gb", capacity_memory_gb),
        ("capacity_disk_gb", capacity_disk_gb),
    ):
        if value <= 0:
            raise InvalidInput("Capacity must be positive.", field=field)
    values = {
        "name": name.strip(),
        "driver": driver,
        "location": location,
        "parameters": clean,
        "capacity_vcpus": capacity_vcpus,
        "capacity_memory_gb": capacity_memory_gb,
        "capacity_disk_gb": capacity_disk_gb,
        "status": status,
    }
    with transaction.atomic():
        if host is None:
            host = Host.objects.create(created_at=clock.now(), **values)
        else:
            Host.objects.filter(pk=host.pk).update(**values)
            host.refresh_from_db()
        audit_record(
            actor=Actor.for_user(staff),
            action="host.saved",
            target_type="host",
            target_id=host.public_id,
            requirement="TOS-AUDIT-1",
            data={"name": host.name, "driver": driver, "parameters": host_driver(host).masked_parameters()},
        )
    return host


def _host_choose(service: Service) -> Host:
    """The active host of the service's location with the most free memory that fits the plan."""
    product = service.product
    # Lock the location's hosts first (PostgreSQL refuses FOR UPDATE with GROUP BY), then count what they hold.
    locked = list(
        Host.objects.select_for_update()
        .filter(location=product.location, status=Host.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    live = Q(servers__destroyed_at__isnull=True)
    hosts = (
        Host.objects.filter(pk__in=locked)
        .annotate(
            used_vcpus=Sum("servers__vcpus", filter=live, default=0),
            used_memory=Sum("servers__memory_gb", filter=live, default=0),
            used_disk=Sum("servers__disk_gb", filter=live, default=0),
        )
        .order_by("pk")
    )
    fitting = [
        h
        for h in hosts
        if h.used_vcpus + product.cpu_cores <= h.capacity_vcpus
        and h.used_memory + product.memory_gb <= h.capacity_memory_gb
        and h.used_disk + product.disk_gb <= h.capacity_disk_gb
    ]
    if not fitting:
        raise RuleRefused(
            f"No host in {product.location.name} has room for this plan.", rule="no-capacity", requirement="TOS-ORDER-1"
        )
    return max(fitting, key=lambda h: (h.capacity_memory_gb - h.used_memory, -h.pk))


def _default_image(service: Service) -> Any:
    if service.os_image is not None:
        return service.os_image
    # No image chosen (orders through the API may omit it): the newest Debian offered, else the first Linux.
    offered = list(service.product.os_images.filter(end_of_life=False, family="linux").order_by("code"))
    debian = sorted((i for i in offered if i.code.startswith("debian-")), key=lambda i: i.code, reverse=True)
    chosen = debian or offered
    return chosen[0] if chosen else None


def _image_ref(image: Any) -> ImageRef:
    return ImageRef(code=image.code, windows=image.family == "windows")


def _addresses_wanted(service: Service) -> int:

    extra_codes = {item["code"]: int(item["quantity"]) for item in service.add_ons}
    ipv4_codes = set(AddOn.objects.filter(code__in=extra_codes, kind=AddOn.Kind.IPV4).values_list("code", flat=True))
    return int(service.product.ipv4_included) + sum(q for c, q in extra_codes.items() if c in ipv4_codes)


def server_build(*, service: Service, actor: Actor) -> Operation:
    """Place the service's server on a host, give it its addresses (plan + extra-IP add-ons, TOS-NET-1) and
    request the create operation. Runs in the caller's transaction: refused as a whole when no host has room
    or the pool has too few addresses."""

    existing = Server.objects.filter(service=service).first()
    if existing is not None:
        op = Operation.objects.filter(service=service, kind=Kind.CREATE).order_by("-pk").first()
        if op is not None:
            return op
    with transaction.atomic():
        host = existing.host if existing else _host_choose(service)
        image = _default_image(service)
        if image is None:
            raise RuleRefused("The plan offers no system image.", rule="no-image", requirement="TOS-OS-1")
        server = existing or Server.objects.create(
            service=service,
            host=host,
            name=server_name(service),
            image=image.code,
            vcpus=service.product.cpu_cores,
            memory_gb=service.product.memory_gb,
            disk_gb=service.product.disk_gb,
            created_at=clock.now(),
        )
        held = service.ip_assignments.filter(released_at__isnull=True).count()
        for _ in range(max(_addresses_wanted(service) - held, 0)):
            ip_allocate(customer=service.customer, location=host.location, tier=service.product.tier, service=service)
        operation = operation_request(
            service=service,
            kind=Kind.CREATE,
            actor=actor,
            idempotency_key=f"create:{server.name}",
            parameters={"image": image.code},
            secrets={"root_password": generate_password()},
        )
    return operation


# Requests --------------------------------------------------------------------------------------------------------


ERASING_KINDS = frozenset(
    {Operation.Kind.REINSTALL, Operation.Kind.SNAPSHOT_RESTORE, Operation.Kind.SNAPSHOT_DELETE, Operation.Kind.DESTROY}
)


def _refuse_if_preserved(service: Service) -> None:
    """The customer learns that the server is preserved, not why: the matter of a hold is for staff."""
    try:
        services_hooks.deletion_guard.call(service)
    except DeletionHeld:
        raise RuleRefused(
            "This server is preserved for now: its disk and snapshots cannot be erased, restored or deleted. "
            "Write to support if you need this.",
            rule="server-preserved",
            requirement="TOS-HOLD-1",
        ) from None


def operation_request(
    *,
    service: Service,
    kind: str,
    actor: Actor,
    idempotency_key: str,
    parameters: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    **fields: Any,
) -> Operation:
    """Write the operation (once per key) and run it after commit. A second request with the key returns
    the first operation untouched. An operation that erases what is on the server is refused while a
    legal hold covers it (TOS-HOLD-1: nothing under a hold is deleted, whoever asks)."""
    existing = Operation.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if kind in ERASING_KINDS:
        _refuse_if_preserved(service)
    now = clock.now()
    operation = Operation.objects.create(
        service=service,
        kind=kind,
        idempotency_key=idempotency_key,
        parameters=parameters or {},
        secrets=secrets or {},
        max_attempts=max_attempts,
        next_attempt_at=now,
        requested_by=actor.label or actor.kind,
        created_at=now,
        log=[{"at": now.isoformat(), "message": f"requested by {actor.label or actor.kind}"}],
        **fields,
    )
    audit_record(
        actor=actor,
        action=f"operation.{kind}.requested",
        target_type="service",
        target_id=service.public_id,
        requirement="TOS-AUDIT-1",
        data={"operation": operation.public_id, **(parameters or {})},
    )
    _enqueue(operation)
    return operation


def _enqueue(operation: Operation) -> None:
    from megalayer.provisioning.tasks import operation_run_task

    enqueue_on_commit(operation_run_task, operation.pk, run_after=operation.next_attempt_at)


def server_action(*, service: Service, kind: str, actor: Actor, idempotency_key: str, snapshot: str = "") -> Operation:
    """A customer's (or staff's) power or snapshot action on their server."""
    if kind not in CUSTOMER_ACTIONS:
        raise InvalidInput("Unknown action.", field="action")
    if service.status not in CUSTOMER_ACTIONS[kind]:
        raise RuleRefused(
            f"The server cannot do that while the service is {service.get_status_display().lower()}.",
            rule="service-not-active",
            requirement="TOS-TERM-1",
        )
    server = live_server(service)
    parameters: dict[str, Any] = {}
    if kind.startswith("snapshot_"):
        if not host_driver(server.host).supports(Capability.SNAPSHOTS):
            raise RuleRefused(
                "This server's host does not take snapshots; keep your own backups (TOS-BACKUP-1).",
                rule="snapshots-unsupported",
                requirement="TOS-BACKUP-1",
            )
        name = snapshot.strip()
        if not name or len(name) > 40 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
            raise InvalidInput("Name the snapshot with letters, digits, - and _ (at most 40).", field="snapshot")
        known = {s["name"] for s in server.snapshots}
        if kind == Kind.SNAPSHOT_CREATE:
            if name in known:
                raise InvalidInput("A snapshot with that name exists.", field="snapshot")
            if len(known) >= settings.MEGALAYER_SNAPSHOTS_PER_SERVER:
                raise RuleRefused(
                    f"A server keeps at most {settings.MEGALAYER_SNAPSHOTS_PER_SERVER} snapshots; delete one first.",
                    rule="snapshot-limit",
                    requirement="TOS-BACKUP-1",
                )
        elif name not in known:
            raise NotFound("No such snapshot.")
        parameters["snapshot"] = name
    return operation_request(
        service=service,
        kind=kind,
        actor=actor,
        idempotency_key=f"{service.public_id}:{kind}:{idempotency_key}",
        parameters=parameters,
    )


def live_server(service: Service) -> Server:
    server = Server.objects.select_related("host").filter(service=service, destroyed_at__isnull=True).first()
    if server is None:
        raise NotFound("This service has no server.")
    return server


def server_lifecycle_request(*, service: Service, kind: str, actor: Actor, reason: str) -> Operation | None:
    """Suspend, resume or destroy the service's server as its status changes (TOS-EXPIRE-1, TOS-TERM-1).

    Keyed by the service's history, so a rerun asks once. None when there is no machine (never built).
    """
    server = Server.objects.filter(service=service, destroyed_at__isnull=True).first()
    if server is None:
        return None
    sequence = service.events.count()
    return operation_request(
        service=service,
        kind=kind,
        actor=actor,
        idempotency_key=f"{server.name}:{kind}:{sequence}",
        parameters={"reason": reason},
        max_attempts=12 if kind == Kind.DESTROY else DEFAULT_MAX_ATTEMPTS,
    )


def operation_retry(*, operation: Operation, staff: Any) -> Operation:
    """Staff run a failed operation again (with a fresh allowance of attempts)."""
    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation.pk)
        if operation.status != OpStatus.FAILED:
            raise RuleRefused("Only a failed operation can be retried.", rule="not-failed", requirement="TOS-AUDIT-1")
        if operation.kind == Kind.REINSTALL and operation.failed_on_our_side:
            raise RuleRefused(
                "This reinstall was refunded; the customer can ask again.", rule="refunded", requirement="TOS-AUDIT-1"
            )
        now = clock.now()
        OPERATION_STATUS.move(
            operation,
            OpStatus.PENDING,
            next_attempt_at=now,
            max_attempts=operation.attempts + DEFAULT_MAX_ATTEMPTS,
            error="",
            finished_at=None,
            log=[*operation.log, {"at": now.isoformat(), "message": f"retried by {staff}"}],
        )
        if operation.kind == Kind.CREATE and operation.service.status == Status.FAILED:
            service_provisioning_retry(service=operation.service, actor=Actor.for_user(staff))
        audit_record(
            actor=Actor.for_user(staff),
            action="operation.retried",
            target_type="service",
            target_id=operation.service.public_id,
            requirement="TOS-AUDIT-1",
            data={"operation": operation.public_id, "kind": operation.kind},
        )
        operation.refresh_from_db()
        _enqueue(operation)
    return operation


def operation_cancel(*, operation: Operation, staff: Any) -> Operation:
    """Staff withdraw an operation that has not started. Lifecycle operations cannot be withdrawn."""
    if operation.kind in (Kind.CREATE, Kind.DESTROY, Kind.SUSPEND, Kind.RESUME):
        raise RuleRefused(
            "Lifecycle operations follow the service; change the service instead.",
            rule="lifecycle-operation",
            requirement="TOS-AUDIT-1",
        )
    with transaction.atomic():
        now = clock.now()
        done = OPERATION_STATUS.claim(
            Operation.objects.filter(pk=operation.pk),
            sources=[OpStatus.PENDING, OpStatus.FAILED],
            target=OpStatus.CANCELLED,
            finished_at=now,
            secrets={},
        )
        if not done:
            raise RuleRefused(
                "A running or finished operation cannot be cancelled.", rule="not-pending", requirement="TOS-AUDIT-1"
            )
        operation.refresh_from_db()
        if operation.kind == Kind.REINSTALL:
            from megalayer.provisioning.actions.reinstall import reinstall_failed_on_our_side

            reinstall_failed_on_our_side(
                operation=operation, error=f"cancelled by {staff}", staff_or_system=Actor.for_user(staff)
            )
        audit_record(
            actor=Actor.for_user(staff),
            action="operation.cancelled",
            target_type="service",
            target_id=operation.service.public_id,
            requirement="TOS-AUDIT-1",
            data={"operation": operation.public_id, "kind": operation.kind},
        )
    operation.refresh_from_db()
    return operation


def password_pending(service: Service) -> Operation | None:
    """The finished create or reinstall whose new password the customer has not seen yet."""
    return (
        Operation.objects.filter(service=service, kind__in=[Kind.CREATE, Kind.REINSTALL], status=OpStatus.SUCCEEDED)
        .exclude(secrets={})
        .order_by("-pk")
        .first()
    )


def password_reveal(*, service: Service, actor: Actor) -> str:
    """Show the new root / Administrator password once: it is erased from the database as it is read."""
    with transaction.atomic():
        operation = password_pending(service)
        if operation is None:
            raise NotFound("There is no new password to show; it has been shown already.")
        operation = Operation.objects.select_for_update().get(pk=operation.pk)
        password = str(operation.secrets.get("root_password", ""))
        Operation.objects.filter(pk=operation.pk).update(secrets={})
        if not password:
            raise NotFound("There is no new password to show; it has been shown already.")
        audit_record(
            actor=actor,
            action="server.password_shown",
            target_type="service",
            target_id=service.public_id,
            requirement="TOS-REINSTALL-1",
            data={"operation": operation.public_id},
        )
    return password


# Running ---------------------------------------------------------------------------------------------------------


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


def _spec(operation: Operation, server: Server) -> ServerSpec:

    service = operation.service
    image = OsImage.objects.get(code=operation.parameters.get("image") or server.image)
    addresses = tuple(
        service.ip_assignments.filter(released_at__isnull=True).order_by("pk").values_list("address", flat=True)
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
    )


def _perform(operation: Operation, server: Server, driver: Driver) -> dict[str, Any]:
    """The driver call of each kind; returns what the operation records as its result."""
    kind, name = operation.kind, server.name
    info: ServerInfo | None = None
    result: dict[str, Any] = {}
    if kind == Kind.CREATE:
        info = driver.create(_spec(operation, server))
    elif kind == Kind.REINSTALL:
        image = OsImage.objects.get(code=operation.parameters["os_image"])
        info = driver.reinstall(name, _image_ref(image), root_password=str(operation.secrets.get("root_password", "")))
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
            secrets=kept if operation.kind in (Kind.CREATE, Kind.REINSTALL) else {},
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
            )
        if operation.kind == Kind.CREATE:
            fields["built_at"] = now
        if operation.kind in (Kind.CREATE, Kind.REINSTALL):
            # An older unseen password no longer opens anything: only the newest one is kept.
            Operation.objects.filter(service_id=operation.service_id, pk__lt=operation.pk).exclude(secrets={}).update(
                secrets={}
            )
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
        from megalayer.provisioning.actions.reinstall import reinstall_failed_on_our_side

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


# Reconciliation and traffic --------------------------------------------------------------------------------------


def host_reconcile(*, host: Host) -> list[dict[str, str]]:
    """Compare the host's machines with the database; record and return the drift (never fixes it blindly)."""
    driver = host_driver(host)
    now = clock.now()
    try:
        machines = {m.name: m for m in driver.list_servers()}
    except DriverError as error:
        unreachable = [{"kind": "unreachable", "server": "", "detail": str(error)[:300]}]
        Host.objects.filter(pk=host.pk).update(last_reconciled_at=now, drift=unreachable)
        return unreachable
    expected = {s.name: s for s in Server.objects.filter(host=host, destroyed_at__isnull=True, built_at__isnull=False)}
    drift: list[dict[str, str]] = []
    for name in sorted(set(machines) - set(expected)):
        if not Server.objects.filter(name=name, destroyed_at__isnull=True).exists():
            drift.append({"kind": "unknown_machine", "server": name, "detail": "on the host, not in the database"})
    for name, server in sorted(expected.items()):
        machine = machines.get(name)
        if machine is None:
            drift.append({"kind": "missing_machine", "server": name, "detail": "in the database, not on the host"})
            continue
        if (
            machine.power.value != server.power
            and not Operation.objects.filter(service=server.service_id, status__in=OPEN).exists()
        ):
            drift.append(
                {"kind": "power", "server": name, "detail": f"host says {machine.power.value}, database {server.power}"}
            )
            Server.objects.filter(pk=server.pk).update(power=machine.power.value)
        Server.objects.filter(pk=server.pk).update(last_seen_at=now)
    Host.objects.filter(pk=host.pk).update(last_reconciled_at=now, drift=drift)
    if drift:
        audit_record(
            actor=SYSTEM,
            action="host.drift",
            target_type="host",
            target_id=host.public_id,
            requirement="TOS-AUDIT-1",
            data={"drift": drift[:50]},
        )
    return drift


def hosts_reconcile() -> dict[str, int]:
    counts = {"hosts": 0, "drift": 0}
    for host in Host.objects.exclude(status=Host.Status.DISABLED):
        counts["hosts"] += 1
        counts["drift"] += len(host_reconcile(host=host))
    return counts


def traffic_sample(*, servers: Iterable[Server] | None = None) -> int:
    """Read each live server's counters once (hourly by the worker) for the traffic chart."""
    now = clock.now().replace(second=0, microsecond=0)
    taken = 0
    rows = (
        servers
        if servers is not None
        else Server.objects.select_related("host").filter(destroyed_at__isnull=True, built_at__isnull=False)
    )
    for server in rows:
        driver = host_driver(server.host)
        if not driver.supports(Capability.TRAFFIC):
            continue
        try:
            counters = driver.traffic(server.name)
        except DriverError:
            continue
        _, created = TrafficSample.objects.get_or_create(
            server=server, at=now, defaults={"rx_bytes": counters.rx_bytes, "tx_bytes": counters.tx_bytes}
        )
        taken += int(created)
    return taken
