"""The server behind a service: ``/services/{id}/server``, ``/ips``, ``/rdns``, ``/power``, ``/reinstall``,
``/reinstall-quota``, ``/password``, ``/snapshots``, ``/traffic``, ``/operations``.

Every machine action answers 202 with the operation to watch; its status moves
pending → running → succeeded/failed (``GET /services/{id}/operations/{op}``).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.accounts.queries import signed_in_user, ssh_keys_chosen
from megalayer.api.auth import require_write
from megalayer.api.pagination import Limit
from megalayer.api.resources.billing import MoneyOut, _customer, money_out
from megalayer.api.resources.services import _service
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.catalog.queries import image_by_code, isos_offered
from megalayer.core import clock
from megalayer.core.errors import NotFound
from megalayer.core.ids import new_public_id
from megalayer.network.actions import rdns_set
from megalayer.notices.queries import attack_alarms_of_service
from megalayer.provisioning.actions import password_pending, password_reveal, server_action
from megalayer.provisioning.actions.console import console_open
from megalayer.provisioning.actions.reinstall import reinstall_quota, reinstall_request
from megalayer.provisioning.actions.snapshots import schedule_allowed, snapshot_schedule_set, snapshot_schedule_stop
from megalayer.provisioning.models import Operation
from megalayer.provisioning.queries import (
    console_websocket_url,
    operations_of,
    server_view,
    snapshot_schedule_of,
    traffic_this_month,
    traffic_usage,
)
from megalayer.services.models import Service
from megalayer.terms.queries import policy_at

router = Router(tags=["servers"])
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class AddressOut(Schema):
    address: str
    family: int
    reverse_dns: str
    prefix_length: int | None = Field(
        default=None, description="A delegated IPv6 prefix (e.g. 64) starting at address; null: one address"
    )


class SnapshotOut(Schema):
    name: str
    created_at: dt.datetime


class ServerOut(Schema):
    id: str
    power: str
    network_suspended: bool
    os_image: str
    vcpus: int
    memory_gb: int
    disk_gb: int
    addresses: list[AddressOut]
    capabilities: list[str]
    snapshots: list[SnapshotOut]
    new_password_waiting: bool = Field(description="A new root password can be shown once (POST …/password)")
    rescue: bool = Field(description="Booted into the rescue system (POST/DELETE …/rescue)")
    iso: str | None = Field(description="The inserted ISO's code (PUT/DELETE …/iso)")
    bandwidth_limit_mbps: int | None = Field(description="Throttled past the month's traffic allowance")


class OperationOut(Schema):
    id: str
    kind: str
    status: str
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class PowerIn(Schema):
    action: Literal["on", "off", "reboot"]


class ReinstallIn(Schema):
    os_image: str = Field(max_length=40)
    confirm_erase: bool = Field(description="Must be true: the whole disk is erased")
    ssh_keys: list[str] | None = Field(
        default=None, max_length=20, description="Your key ids (key_…) for the new system; omitted: the same keys"
    )
    user_data: str | None = Field(
        default=None,
        max_length=65536,
        description='cloud-init user data (#cloud-config or #!, at most 16 KiB); omitted: the same; "": none',
    )


class QuotaOut(Schema):
    month: str
    free_per_month: int
    free_left: int
    fee: MoneyOut
    next_reinstall_costs: MoneyOut


class PasswordOut(Schema):
    password: str
    user: str
    system: Literal["server", "rescue"] = Field(description="rescue: the rescue system's one-time password")


class ScheduleIn(Schema):
    frequency: Literal["daily", "weekly"]
    keep: int = Field(ge=1, le=30, description="How many of the schedule's snapshots are kept (the oldest go)")
    hour: int = Field(default=3, ge=0, le=23, description="Hour of the day in the provider's time zone")


class ScheduleOut(Schema):
    available: bool = Field(description="The service has the scheduled-snapshots add-on")
    enabled: bool
    frequency: str | None
    keep: int | None
    hour: int | None


class ConsoleOut(Schema):
    websocket_url: str = Field(description="For a VNC client over websockets (noVNC); single use, this person only")
    expires_at: dt.datetime


class IsoIn(Schema):
    iso: str = Field(max_length=40, description="An ISO's code from GET /isos")


class IsoOut(Schema):
    code: str
    name: str


class RdnsIn(Schema):
    address: str = Field(max_length=64)
    hostname: str = Field(max_length=253)


class SnapshotIn(Schema):
    name: str = Field(max_length=40)


class TrafficDayOut(Schema):
    day: dt.date
    rx_bytes: int
    tx_bytes: int
    estimated: bool = Field(description="Part of the day's bytes were spread over a gap in the samples")


class TrafficOut(Schema):
    month: str
    days: list[TrafficDayOut]
    rx_bytes: int
    tx_bytes: int
    allowance_bytes: int = Field(description="The plan's monthly allowance; 0: unmetered")
    used_bytes: int = Field(description="Counted as the Terms say (traffic.counted): in and out, or out only")
    forecast_bytes: int = Field(description="At this month's rate so far, by its end")
    past_allowance: str = Field(description="What happens past the allowance (traffic.overage)")
    bandwidth_limit_mbps: int | None


def operation_out(operation: Operation) -> OperationOut:
    return OperationOut(
        id=operation.public_id,
        kind=operation.kind,
        status=operation.status,
        attempts=operation.attempts,
        created_at=operation.created_at,
        started_at=operation.started_at,
        finished_at=operation.finished_at,
    )


def _key(request: HttpRequest) -> str:
    """The request's Idempotency-Key (the middleware replays repeats), or a fresh one."""
    return request.headers.get("Idempotency-Key") or new_public_id("req")


def _act(request: HttpRequest, service_id: str, kind: str, snapshot: str = "", iso: str = "") -> Status[OperationOut]:
    """Every server action of the API: write scope, the caller's own service, one operation per request key."""
    require_write(request)
    operation = server_action(
        service=_service(request, service_id),
        kind=kind,
        actor=Actor.for_user(signed_in_user(request)),
        idempotency_key=_key(request),
        snapshot=snapshot,
        iso=iso,
    )
    return Status(202, operation_out(operation))


def _view(service: Service) -> ServerOut:

    view = server_view(service)
    if view is None:
        raise NotFound("This service has no server.")
    server = view.server
    return ServerOut(
        id=server.public_id,
        power=server.power,
        network_suspended=server.network_suspended,
        os_image=server.image,
        vcpus=server.vcpus,
        memory_gb=server.memory_gb,
        disk_gb=server.disk_gb,
        addresses=[
            AddressOut(address=a.address, family=a.family, reverse_dns=a.reverse_dns, prefix_length=a.prefix_length)
            for a in view.addresses
        ],
        capabilities=sorted(view.capabilities),
        snapshots=[SnapshotOut(name=s["name"], created_at=s["created_at"]) for s in view.snapshots],
        new_password_waiting=password_pending(service) is not None,
        rescue=server.rescue,
        iso=server.iso or None,
        bandwidth_limit_mbps=server.bandwidth_limit_mbps,
    )


@router.get("/services/{service_id}/server", response={200: ServerOut, **ERRORS}, summary="The service's server")
def server_detail(request: HttpRequest, service_id: str) -> ServerOut:
    return _view(_service(request, service_id))


@router.get("/services/{service_id}/ips", response={200: list[AddressOut], **ERRORS}, summary="Its addresses")
def server_ips(request: HttpRequest, service_id: str) -> list[AddressOut]:
    return _view(_service(request, service_id)).addresses


@router.put(
    "/services/{service_id}/rdns", response={200: AddressOut, **ERRORS}, summary="Set the reverse DNS of an address"
)
def server_rdns(request: HttpRequest, service_id: str, payload: RdnsIn) -> AddressOut:
    require_write(request)
    service = _service(request, service_id)
    record = rdns_set(customer=_customer(request), address=payload.address, hostname=payload.hostname, service=service)
    family = 6 if ":" in record.address else 4
    return AddressOut(address=record.address, family=family, reverse_dns=record.hostname)


@router.post(
    "/services/{service_id}/power",
    response={202: OperationOut, **ERRORS},
    summary="Power on, off (soft, then hard) or reboot",
)
def server_power(request: HttpRequest, service_id: str, payload: PowerIn) -> Status[OperationOut]:
    kind = {"on": Operation.Kind.POWER_ON, "off": Operation.Kind.POWER_OFF, "reboot": Operation.Kind.REBOOT}
    return _act(request, service_id, kind[payload.action])


@router.get(
    "/services/{service_id}/reinstall-quota",
    response={200: QuotaOut, **ERRORS},
    summary="Free reinstalls left this month and the fee after that (TOS-REINSTALL-1)",
)
def server_reinstall_quota(request: HttpRequest, service_id: str) -> QuotaOut:
    quota = reinstall_quota(_service(request, service_id))
    return QuotaOut(
        month=quota.month,
        free_per_month=quota.free_per_month,
        free_left=quota.free_left,
        fee=money_out(quota.fee.amount, quota.fee.currency),
        next_reinstall_costs=money_out(quota.next_costs.amount, quota.next_costs.currency),
    )


@router.post(
    "/services/{service_id}/reinstall",
    response={202: OperationOut, **ERRORS},
    summary="Erase the disk and install a system; past the free one, the fee is paid from the balance first",
)
def server_reinstall(request: HttpRequest, service_id: str, payload: ReinstallIn) -> Status[OperationOut]:
    require_write(request)
    service = _service(request, service_id)
    image = image_by_code(payload.os_image)
    keys = None
    if payload.ssh_keys is not None:
        keys = ssh_keys_chosen(customer=service.customer, public_ids=payload.ssh_keys)
    operation = reinstall_request(
        service=service,
        os_image=image,
        confirm_erase=payload.confirm_erase,
        actor=Actor.for_user(signed_in_user(request)),
        idempotency_key=_key(request),
        ssh_keys=keys,
        user_data=payload.user_data,
    )
    return Status(202, operation_out(operation))


@router.post(
    "/services/{service_id}/password",
    response={200: PasswordOut, **ERRORS},
    summary="Show the new root/Administrator password, once; it is erased as it is shown",
)
def server_password(request: HttpRequest, service_id: str) -> PasswordOut:
    require_write(request)
    service = _service(request, service_id)
    shown = password_reveal(service=service, actor=Actor.for_user(signed_in_user(request)))
    return PasswordOut(password=shown.password, user=shown.user, system="rescue" if shown.rescue else "server")


@router.post(
    "/services/{service_id}/rescue",
    response={202: OperationOut, **ERRORS},
    summary="Reboot into the rescue system; its one-time root password is shown once (POST …/password)",
)
def server_rescue_enter(request: HttpRequest, service_id: str) -> Status[OperationOut]:
    return _act(request, service_id, Operation.Kind.RESCUE_ENTER)


@router.delete(
    "/services/{service_id}/rescue", response={202: OperationOut, **ERRORS}, summary="Reboot from the server's disk"
)
def server_rescue_exit(request: HttpRequest, service_id: str) -> Status[OperationOut]:
    return _act(request, service_id, Operation.Kind.RESCUE_EXIT)


@router.post(
    "/services/{service_id}/console",
    response={201: ConsoleOut, **ERRORS},
    summary="Open the browser console: a single-use websocket URL for your signed-in browser session (audited)",
)
def server_console(request: HttpRequest, service_id: str) -> Status[ConsoleOut]:
    """The websocket also needs the signed-in session of the same person (the proxy checks it), so the URL
    serves a browser of yours, e.g. a panel of your own embedding noVNC, not a third party."""
    require_write(request)
    service = _service(request, service_id)
    opened = console_open(service=service, user=signed_in_user(request), by_staff=False)
    url = console_websocket_url(secure=request.is_secure(), host=request.get_host(), token=opened.token)
    return Status(201, ConsoleOut(websocket_url=url, expires_at=opened.expires_at))


def _schedule_out(service: Service) -> ScheduleOut:
    schedule = snapshot_schedule_of(service)
    return ScheduleOut(
        available=schedule_allowed(service),
        enabled=bool(schedule and schedule.enabled),
        frequency=schedule.frequency if schedule else None,
        keep=schedule.keep if schedule else None,
        hour=schedule.hour if schedule else None,
    )


@router.get(
    "/services/{service_id}/snapshot-schedule",
    response={200: ScheduleOut, **ERRORS},
    summary="The server's scheduled snapshots (an add-on; TOS-BACKUP-1: snapshots are not backups)",
)
def server_schedule(request: HttpRequest, service_id: str) -> ScheduleOut:
    return _schedule_out(_service(request, service_id))


@router.put(
    "/services/{service_id}/snapshot-schedule",
    response={200: ScheduleOut, **ERRORS},
    summary="Schedule snapshots daily or weekly, keeping the newest N",
)
def server_schedule_set(request: HttpRequest, service_id: str, payload: ScheduleIn) -> ScheduleOut:
    require_write(request)
    service = _service(request, service_id)
    snapshot_schedule_set(
        service=service,
        frequency=payload.frequency,
        keep=payload.keep,
        hour=payload.hour,
        actor=Actor.for_user(signed_in_user(request)),
    )
    return _schedule_out(service)


@router.delete(
    "/services/{service_id}/snapshot-schedule",
    response={204: None, **ERRORS},
    summary="Stop the schedule (its snapshots stay until you delete them)",
)
def server_schedule_stop(request: HttpRequest, service_id: str) -> Status[None]:
    require_write(request)
    snapshot_schedule_stop(service=_service(request, service_id), actor=Actor.for_user(signed_in_user(request)))
    return Status(204, None)


@router.get("/isos", response={200: list[IsoOut], 401: Problem}, summary="The ISO images offered for mounting")
def isos(request: HttpRequest) -> list[IsoOut]:
    return [IsoOut(code=i.code, name=i.name) for i in isos_offered()]


@router.put(
    "/services/{service_id}/iso",
    response={202: OperationOut, **ERRORS},
    summary="Insert an ISO and boot from it (the server restarts)",
)
def server_iso_insert(request: HttpRequest, service_id: str, payload: IsoIn) -> Status[OperationOut]:
    return _act(request, service_id, Operation.Kind.ISO_INSERT, iso=payload.iso)


@router.delete(
    "/services/{service_id}/iso",
    response={202: OperationOut, **ERRORS},
    summary="Eject the ISO; the server boots from its disk again (it restarts)",
)
def server_iso_eject(request: HttpRequest, service_id: str) -> Status[OperationOut]:
    return _act(request, service_id, Operation.Kind.ISO_EJECT)


@router.post(
    "/services/{service_id}/snapshots", response={202: OperationOut, **ERRORS}, summary="Take a snapshot (TOS-BACKUP-1)"
)
def server_snapshot_create(request: HttpRequest, service_id: str, payload: SnapshotIn) -> Status[OperationOut]:
    return _act(request, service_id, Operation.Kind.SNAPSHOT_CREATE, payload.name)


@router.post(
    "/services/{service_id}/snapshots/{name}/restore",
    response={202: OperationOut, **ERRORS},
    summary="Roll the disk back to a snapshot",
)
def server_snapshot_restore(request: HttpRequest, service_id: str, name: str) -> Status[OperationOut]:
    return _act(request, service_id, Operation.Kind.SNAPSHOT_RESTORE, name)


@router.delete(
    "/services/{service_id}/snapshots/{name}", response={202: OperationOut, **ERRORS}, summary="Delete a snapshot"
)
def server_snapshot_delete(request: HttpRequest, service_id: str, name: str) -> Status[OperationOut]:
    return _act(request, service_id, Operation.Kind.SNAPSHOT_DELETE, name)


@router.get(
    "/services/{service_id}/traffic", response={200: TrafficOut, **ERRORS}, summary="Traffic per day this month"
)
def server_traffic(request: HttpRequest, service_id: str) -> TrafficOut:
    service = _service(request, service_id)
    view = server_view(service)
    if view is None:
        raise NotFound("This service has no server.")
    days = traffic_this_month(view.server)
    policy = policy_at(clock.now()).traffic
    usage = traffic_usage(view.server, counted=policy.counted)
    return TrafficOut(
        month=days[-1].day.strftime("%Y-%m") if days else "",
        days=[TrafficDayOut(day=d.day, rx_bytes=d.rx_bytes, tx_bytes=d.tx_bytes, estimated=d.estimated) for d in days],
        rx_bytes=sum(d.rx_bytes for d in days),
        tx_bytes=sum(d.tx_bytes for d in days),
        allowance_bytes=usage.allowance_bytes,
        used_bytes=usage.used_bytes,
        forecast_bytes=usage.forecast_bytes,
        past_allowance=policy.overage,
        bandwidth_limit_mbps=view.server.bandwidth_limit_mbps,
    )


@router.get(
    "/services/{service_id}/operations",
    response={200: list[OperationOut], **ERRORS},
    summary="The server's operations, newest first",
)
def server_operations(request: HttpRequest, service_id: str) -> list[OperationOut]:
    return [operation_out(o) for o in operations_of(_service(request, service_id))[:50]]


@router.get(
    "/services/{service_id}/operations/{operation_id}",
    response={200: OperationOut, **ERRORS},
    summary="One operation (poll it to follow progress)",
)
def server_operation(request: HttpRequest, service_id: str, operation_id: str) -> OperationOut:
    operation = operations_of(_service(request, service_id)).filter(public_id=operation_id).first()
    if operation is None:
        raise NotFound("No such operation.")
    return operation_out(operation)


class AttackAlarmOut(Schema):
    id: str
    address: str
    direction: str = Field(description="incoming (on your address), outgoing (from it), internal or other")
    started_at: dt.datetime
    ended_at: dt.datetime | None
    alerts: int
    peak_pps: int
    peak_bps: int
    null_routed: bool = Field(description="The address was taken off the network for it (TOS-ATTACK-1)")


@router.get(
    "/services/{service_id}/attack-alarms",
    response={200: list[AttackAlarmOut], **ERRORS},
    summary="Attacks on or from the service's addresses, newest first (TOS-ATTACK-1)",
)
def service_attack_alarms(request: HttpRequest, service_id: str, limit: Limit = 25) -> list[AttackAlarmOut]:
    service = _service(request, service_id)
    return [
        AttackAlarmOut(
            id=a.public_id,
            address=a.address,
            direction=a.direction,
            started_at=a.started_at,
            ended_at=a.ended_at,
            alerts=a.alerts,
            peak_pps=a.peak_pps,
            peak_bps=a.peak_bps,
            null_routed=a.null_route_id is not None,
        )
        for a in attack_alarms_of_service(service)[:limit]
    ]
