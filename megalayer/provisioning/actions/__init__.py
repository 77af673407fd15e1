"""Provisioning's requests: placing a server on a host and asking for machine actions as operations. Running
them is in ``runner`` (retries, back-off, a lease), hosts and their reconciliation in ``hosts``, traffic
counters in ``traffic``, reinstalls (quota and fee) in ``reinstall``, network notices in ``network_notices``.

The ``Operation`` row is the truth. A request writes the row (and, for a
create, the ``Server`` row and its addresses) in the caller's transaction and
enqueues a run after commit; a lost task is found again by the periodic sweep
(``operations_run_due``). A run claims the row by compare-and-set, calls the
driver outside any transaction (a hypervisor call can take minutes), then
writes the outcome and its effect on the service in one transaction.
Operations of one service run in the order they were requested.
"""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.catalog.models import AddOn, IsoImage
from megalayer.core import clock
from megalayer.core.errors import DeletionHeld, InvalidInput, NotFound, RuleRefused
from megalayer.core.tasks import enqueue_on_commit
from megalayer.core.transactions import outermost
from megalayer.network.actions import ip_allocate
from megalayer.network.queries import ipv6_pool_exists
from megalayer.provisioning.actions.hosts import host_driver
from megalayer.provisioning.actions.machines import machine_bind, machine_take
from megalayer.provisioning.choices import OPERATION_STATUS
from megalayer.provisioning.drivers import BARE_METAL
from megalayer.provisioning.drivers.base import Capability, ImageRef
from megalayer.provisioning.models import Host, MachineWait, Operation, Server
from megalayer.services import hooks as services_hooks
from megalayer.services.actions import service_provisioning_retry
from megalayer.services.choices import Status
from megalayer.services.models import Service

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
    Kind.RESCUE_ENTER: (Status.ACTIVE,),
    Kind.RESCUE_EXIT: (Status.ACTIVE,),
    Kind.ISO_INSERT: (Status.ACTIVE,),
    Kind.ISO_EJECT: (Status.ACTIVE,),
}
# The operations that leave a password to be shown once (create, reinstall: root; rescue: the rescue system's).
PASSWORD_KINDS = (Kind.CREATE, Kind.REINSTALL, Kind.RESCUE_ENTER)


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


# Hosts -----------------------------------------------------------------------------------------------------------


def _host_choose(service: Service) -> Host:
    """The active host of the service's location with the most free memory that fits the plan."""
    product = service.product
    # Lock the location's hosts first (PostgreSQL refuses FOR UPDATE with GROUP BY), then count what they hold.
    locked = list(
        Host.objects.select_for_update()
        .filter(location=product.location, status=Host.Status.ACTIVE)
        .exclude(driver__in=BARE_METAL)  # racks of machines: orders take a machine there, not room
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
    needs = [Capability.USER_DATA] if service.cloud_init.get("user_data") else []
    fitting = [
        h
        for h in hosts
        if all(host_driver(h).supports(c) for c in needs)
        and h.used_vcpus + product.cpu_cores <= h.capacity_vcpus
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


def server_build(*, service: Service, actor: Actor) -> Operation | None:
    """Place the service's server on a host, give it its addresses (plan + extra-IP add-ons, TOS-NET-1) and
    request the create operation. Runs in the caller's transaction: refused as a whole when no host has room
    or the pool has too few addresses.

    A dedicated server (a product with a hardware profile) takes a free machine of the profile instead of
    room on a host; when none is free the order waits for one (None: nothing requested yet, issue 19)."""

    existing = Server.objects.filter(service=service).first()
    if existing is not None:
        op = Operation.objects.filter(service=service, kind=Kind.CREATE).order_by("-pk").first()
        if op is not None:
            return op
    with transaction.atomic():
        image = _default_image(service)
        if image is None:
            raise RuleRefused("The plan offers no system image.", rule="no-image", requirement="TOS-OS-1")
        machine = None
        if existing is None and service.product.hardware_profile_id is not None:
            machine = machine_take(service)
            if machine is None:
                return None
        host = existing.host if existing else (machine.host if machine else _host_choose(service))
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
        if machine is not None:
            machine_bind(machine, server)
        live = service.ip_assignments.filter(released_at__isnull=True)
        held = live.filter(prefix__family=4).count()
        for _ in range(max(_addresses_wanted(service) - held, 0)):
            ip_allocate(customer=service.customer, location=host.location, tier=service.product.tier, service=service)
        length = service.product.ipv6_prefix_length
        if length and ipv6_pool_exists(host.location, service.product.tier) and not live.filter(prefix__family=6):
            ip_allocate(
                customer=service.customer,
                location=host.location,
                tier=service.product.tier,
                service=service,
                family=6,
                prefix_length=length,
            )
        operation = operation_request(
            service=service,
            kind=Kind.CREATE,
            actor=actor,
            idempotency_key=f"create:{server.name}",
            parameters={"image": image.code, "ssh_keys": list(service.ssh_keys)},
            secrets={"root_password": generate_password(), **service.cloud_init},
        )
    return operation


def machines_assign_waiting(limit: int = 100) -> int:
    """Give freed machines to the orders waiting for them, first paid first served; how many got one."""
    served = 0
    for wait_id in MachineWait.objects.order_by("created_at", "pk").values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            wait = MachineWait.objects.select_for_update(skip_locked=True).filter(pk=wait_id).first()
            if wait is None:
                continue
            service = Service.objects.select_for_update().get(pk=wait.service_id)
            if service.status != Status.PROVISIONING:
                wait.delete()  # cancelled or refunded meanwhile
                continue
            if server_build(service=service, actor=SYSTEM) is not None:
                served += 1
    return served


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


def _media_parameters(server: Server, kind: str, iso: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Rescue and ISO (issue 18): refused with the reason on a host whose driver cannot, or when the server
    is not in the state the action leaves (nothing is written then)."""
    needed = Capability.RESCUE if kind in (Kind.RESCUE_ENTER, Kind.RESCUE_EXIT) else Capability.ISO
    if not host_driver(server.host).supports(needed):
        what = "boot a rescue system" if needed == Capability.RESCUE else "mount ISO images"
        raise RuleRefused(
            f"This server's host cannot {what}; write to support if you need it.",
            rule=f"{needed.value}-unsupported",
            requirement="TOS-OS-1",
        )
    if kind == Kind.RESCUE_ENTER and server.rescue:
        raise RuleRefused("The server is in the rescue system already.", rule="in-rescue", requirement="TOS-OS-1")
    if kind == Kind.RESCUE_EXIT and not server.rescue:
        raise RuleRefused("The server is not in the rescue system.", rule="not-in-rescue", requirement="TOS-OS-1")
    if kind == Kind.ISO_EJECT and not server.iso:
        raise RuleRefused("No ISO is inserted.", rule="no-iso", requirement="TOS-OS-1")
    if kind == Kind.ISO_INSERT:
        image = IsoImage.objects.filter(code=iso.strip(), enabled=True).first()
        if image is None:
            raise InvalidInput("Choose an ISO from the list.", field="iso")
        return {"iso": image.code}, {}
    if kind == Kind.RESCUE_ENTER:
        return {}, {"root_password": generate_password()}
    return {}, {}


def server_action(
    *, service: Service, kind: str, actor: Actor, idempotency_key: str, snapshot: str = "", iso: str = ""
) -> Operation:
    """A customer's (or staff's) power, snapshot, rescue or ISO action on their server."""
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
    secrets: dict[str, str] = {}
    if kind in (Kind.RESCUE_ENTER, Kind.RESCUE_EXIT, Kind.ISO_INSERT, Kind.ISO_EJECT):
        parameters, secrets = _media_parameters(server, kind, iso)
    if kind.startswith("snapshot_"):
        require_snapshots(server)
        name = snapshot.strip()
        if not name or len(name) > 40 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
            raise InvalidInput("Name the snapshot with letters, digits, - and _ (at most 40).", field="snapshot")
        known = {s["name"] for s in server.snapshots}
        if kind == Kind.SNAPSHOT_CREATE:
            if name in known:
                raise InvalidInput("A snapshot with that name exists.", field="snapshot")
            if name.startswith(SCHEDULED_PREFIX):
                raise InvalidInput(f"Names starting with {SCHEDULED_PREFIX} are the schedule's own.", field="snapshot")
            # The schedule's own snapshots have their own count (its "keep").
            own = {n for n in known if not n.startswith(SCHEDULED_PREFIX)}
            if len(own) >= settings.MEGALAYER_SNAPSHOTS_PER_SERVER:
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
        secrets=secrets,
    )


# The names of scheduled snapshots (``actions.snapshots``): the schedule prunes these and only these.
SCHEDULED_PREFIX = "auto-"


def require_snapshots(server: Server) -> None:
    """Refused, with the Terms' reminder, on a host whose driver takes no snapshots (TOS-BACKUP-1)."""
    if not host_driver(server.host).supports(Capability.SNAPSHOTS):
        raise RuleRefused(
            "This server's host does not take snapshots; keep your own backups (TOS-BACKUP-1).",
            rule="snapshots-unsupported",
            requirement="TOS-BACKUP-1",
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


def operation_retry(*, operation: Operation, staff: User) -> Operation:
    """Staff run a failed operation again (with a fresh allowance of attempts)."""
    with outermost():
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


def operation_cancel(*, operation: Operation, staff: User) -> Operation:
    """Staff withdraw an operation that has not started. Lifecycle operations cannot be withdrawn."""
    if operation.kind in (Kind.CREATE, Kind.DESTROY, Kind.SUSPEND, Kind.RESUME):
        raise RuleRefused(
            "Lifecycle operations follow the service; change the service instead.",
            rule="lifecycle-operation",
            requirement="TOS-AUDIT-1",
        )
    with outermost():
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
        Operation.objects.filter(service=service, kind__in=PASSWORD_KINDS, status=OpStatus.SUCCEEDED)
        .exclude(secrets={})
        .order_by("-pk")
        .first()
    )


@dataclass(frozen=True, slots=True)
class ShownPassword:
    """A password shown once, with whom it is for: the server's root or Administrator, or the rescue system."""

    password: str = field(repr=False)
    user: str
    rescue: bool


def password_reveal(*, service: Service, actor: Actor) -> ShownPassword:
    """Show the new root / Administrator (or rescue system's) password once: erased from the database as it
    is read. Which one it is comes from the operation that made it, read under the same lock."""
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
    rescue = operation.kind == Kind.RESCUE_ENTER
    windows = not rescue and service.os_image is not None and service.os_image.family == "windows"
    return ShownPassword(password=password, user="Administrator" if windows else "root", rescue=rescue)


# Running ---------------------------------------------------------------------------------------------------------


# Reconciliation and traffic --------------------------------------------------------------------------------------
