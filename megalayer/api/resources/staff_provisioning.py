"""``/staff/operations`` (+ retry, cancel), ``/staff/hosts``, ``/staff/ip/null-routes``,
``/staff/network-notices`` (+ ``/{id}/updates``): the machine room for staff."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Field, File, Router, Schema, Status, UploadedFile

from megalayer.abuse.actions.legal import (
    document_response,
    legal_order_attach,
    legal_order_execute,
    legal_order_record,
    require_legal,
)
from megalayer.abuse.queries import legal_order_by_public_id, legal_orders
from megalayer.accounts.queries import signed_in_user
from megalayer.api.auth import StaffTokenAuth, require_write, staff_auth
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.catalog.queries import location_by_code, tier_by_code
from megalayer.core.errors import InvalidInput, NotFound
from megalayer.network.actions import null_route_end, null_route_start
from megalayer.network.models import NullRoute
from megalayer.network.queries import null_routes
from megalayer.notices.queries import network_notice_by_public_id, network_notices_for_staff
from megalayer.provisioning.actions import operation_cancel, operation_retry
from megalayer.provisioning.actions.hosts import host_driver_loaded
from megalayer.provisioning.actions.network_notices import network_notice_publish, network_notice_update
from megalayer.provisioning.models import Operation
from megalayer.provisioning.queries import all_hosts, host_by_public_id, operation_by_public_id, operations_search
from megalayer.services.queries import service_by_public_id, services_by_public_ids

router = Router(tags=["staff"], auth=StaffTokenAuth())
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class StaffOperationOut(Schema):
    id: str
    service: str
    kind: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: dt.datetime | None
    error: str
    log: list[dict[str, str]]
    created_at: dt.datetime
    finished_at: dt.datetime | None


class OperationPage(Schema):
    items: list[StaffOperationOut]
    next: str | None


class HostOut(Schema):
    id: str
    name: str
    driver: str
    location: str
    status: str
    parameters: dict[str, str] = Field(description="Secret parameters are masked")
    capacity_vcpus: int
    capacity_memory_gb: int
    capacity_disk_gb: int
    last_reconciled_at: dt.datetime | None
    drift: list[dict[str, str]]


class NullRouteIn(Schema):
    address: str = Field(max_length=64)
    reason: str = Field(min_length=1, max_length=255)
    requirement: str = Field(
        default="TOS-ABUSE-2", max_length=32, description="A requirement ID of the Terms in force (TOS-ABUSE-2)"
    )
    case_reference: str = Field(default="", max_length=64)


class NullRouteEndIn(Schema):
    note: str = Field(min_length=1, max_length=2000)


class NullRouteOut(Schema):
    address: str
    reason: str
    requirement: str
    case_reference: str
    started_at: dt.datetime
    ended_at: dt.datetime | None


def staff_operation_out(operation: Operation) -> StaffOperationOut:
    return StaffOperationOut(
        id=operation.public_id,
        service=operation.service.public_id,
        kind=operation.kind,
        status=operation.status,
        attempts=operation.attempts,
        max_attempts=operation.max_attempts,
        next_attempt_at=operation.next_attempt_at,
        error=operation.error,
        log=[{"at": str(line.get("at", "")), "message": str(line.get("message", ""))} for line in operation.log],
        created_at=operation.created_at,
        finished_at=operation.finished_at,
    )


def _operation(operation_id: str) -> Operation:
    operation = operation_by_public_id(operation_id)
    if operation is None:
        raise NotFound("No such operation.")
    return operation


def _null_route_out(route: NullRoute) -> NullRouteOut:
    return NullRouteOut(
        address=route.address,
        reason=route.reason,
        requirement=route.requirement,
        case_reference=route.case_reference,
        started_at=route.started_at,
        ended_at=route.ended_at,
    )


@router.get(
    "/staff/operations",
    auth=staff_auth("accounts.manage_machines"),
    response={200: OperationPage, **ERRORS},
    summary="Operations, newest first",
)
def staff_operations(
    request: HttpRequest, status: str = "", cursor: Cursor = None, limit: Limit = 25
) -> dict[str, object]:
    if status and status not in Operation.Status.values:
        raise InvalidInput(f"status is one of {', '.join(Operation.Status.values)}.", field="status")
    rows = operations_search(status=status)
    return paginate(rows, cursor=cursor, limit=limit, render=staff_operation_out)


@router.post(
    "/staff/operations/{operation_id}/retry",
    auth=staff_auth("accounts.manage_machines"),
    response={200: StaffOperationOut, **ERRORS},
    summary="Retry a failed one",
)
def staff_operation_retry(request: HttpRequest, operation_id: str) -> StaffOperationOut:
    require_write(request)
    return staff_operation_out(operation_retry(operation=_operation(operation_id), staff=signed_in_user(request)))


@router.post(
    "/staff/operations/{operation_id}/cancel",
    auth=staff_auth("accounts.manage_machines"),
    response={200: StaffOperationOut, **ERRORS},
    summary="Withdraw one that has not run (a reinstall's fee is refunded)",
)
def staff_operation_cancel(request: HttpRequest, operation_id: str) -> StaffOperationOut:
    require_write(request)
    return staff_operation_out(operation_cancel(operation=_operation(operation_id), staff=signed_in_user(request)))


@router.get(
    "/staff/hosts",
    auth=staff_auth("accounts.manage_machines"),
    response={200: list[HostOut], **ERRORS},
    summary="Hypervisor hosts",
)
def staff_hosts(request: HttpRequest) -> list[HostOut]:
    out = []
    for host in all_hosts().select_related("location"):
        driver, _ = host_driver_loaded(host)
        parameters = driver.masked_parameters() if driver else {}
        out.append(
            HostOut(
                id=host.public_id,
                name=host.name,
                driver=host.driver,
                location=host.location.code,
                status=host.status,
                parameters=parameters,
                capacity_vcpus=host.capacity_vcpus,
                capacity_memory_gb=host.capacity_memory_gb,
                capacity_disk_gb=host.capacity_disk_gb,
                last_reconciled_at=host.last_reconciled_at,
                drift=host.drift,
            )
        )
    return out


@router.get(
    "/staff/ip/null-routes",
    auth=staff_auth("accounts.manage_abuse"),
    response={200: list[NullRouteOut], **ERRORS},
    summary="Null routes in force",
)
def staff_null_routes(request: HttpRequest, include_ended: bool = False) -> list[NullRouteOut]:
    rows = null_routes(include_ended=include_ended)
    return [_null_route_out(r) for r in rows[:500]]


@router.post(
    "/staff/ip/null-routes",
    auth=staff_auth("accounts.manage_abuse"),
    response={201: NullRouteOut, **ERRORS},
    summary="Null-route an address (BGP blackhole, RFC 7999)",
)
def staff_null_route_start(request: HttpRequest, payload: NullRouteIn) -> Status[NullRouteOut]:
    require_write(request)
    route = null_route_start(
        address=payload.address,
        reason=payload.reason,
        requirement=payload.requirement,
        case_reference=payload.case_reference,
        actor=Actor.for_user(signed_in_user(request)),
    )
    return Status(201, _null_route_out(route))


@router.post(
    "/staff/ip/null-routes/{address}/end",
    auth=staff_auth("accounts.manage_abuse"),
    response={200: NullRouteOut, **ERRORS},
    summary="Lift a null route",
)
def staff_null_route_end(request: HttpRequest, address: str, payload: NullRouteEndIn) -> NullRouteOut:
    require_write(request)
    return _null_route_out(
        null_route_end(address=address, actor=Actor.for_user(signed_in_user(request)), note=payload.note)
    )


class NetworkNoticeIn(Schema):
    kind: str = Field(description="maintenance or incident")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000)
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    location: str | None = Field(default=None, description="Location code")
    tier: str | None = Field(default=None, description="Network tier code")
    host: str | None = Field(default=None, description="Host id (hst_…)")
    services: list[str] = Field(default_factory=list, description="Service ids (srv_…)")


class NetworkNoticeUpdateIn(Schema):
    body: str = Field(min_length=1, max_length=20000)
    resolve: bool = False


class NetworkNoticeOut(Schema):
    id: str
    kind: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    resolved_at: dt.datetime | None
    scope: str
    services: int
    customers_told: int


def _notice_out(notice: Any) -> NetworkNoticeOut:
    return NetworkNoticeOut(
        id=notice.public_id,
        kind=notice.kind,
        title=notice.title,
        starts_at=notice.starts_at,
        ends_at=notice.ends_at,
        resolved_at=notice.resolved_at,
        scope=notice.scope,
        services=notice.services.count(),
        customers_told=notice.recipients.count(),
    )


@router.get(
    "/staff/network-notices",
    auth=staff_auth("accounts.manage_machines"),
    response={200: list[NetworkNoticeOut], **ERRORS},
    summary="Network notices",
)
def staff_network_notices(request: HttpRequest) -> list[NetworkNoticeOut]:

    return [_notice_out(n) for n in network_notices_for_staff(100)]


@router.post(
    "/staff/network-notices",
    auth=staff_auth("accounts.manage_machines"),
    response={201: NetworkNoticeOut, **ERRORS},
    summary="Publish a maintenance or incident notice; affected customers are e-mailed once (TOS-NET-2)",
)
def staff_network_notice_publish(request: HttpRequest, payload: NetworkNoticeIn) -> Status[NetworkNoticeOut]:

    require_write(request)
    location = location_by_code(payload.location or "")
    if payload.location and location is None:
        raise InvalidInput("No such location.", field="location")
    tier = tier_by_code(payload.tier or "")
    if payload.tier and tier is None:
        raise InvalidInput("No such network tier.", field="tier")
    host = host_by_public_id(payload.host or "")
    if payload.host and host is None:
        raise InvalidInput("No such host.", field="host")
    services = services_by_public_ids(payload.services)
    if len(services) != len(set(payload.services)):
        raise InvalidInput("Unknown service id.", field="services")
    notice = network_notice_publish(
        staff=signed_in_user(request),
        kind=payload.kind,
        title=payload.title,
        body=payload.body,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        location=location,
        tier=tier,
        host=host,
        services=services,
    )
    return Status(201, _notice_out(notice))


@router.post(
    "/staff/network-notices/{notice_id}/updates",
    auth=staff_auth("accounts.manage_machines"),
    response={201: NetworkNoticeOut, **ERRORS},
    summary="Append an update or the resolution; e-mailed to everyone told",
)
def staff_network_notice_update(
    request: HttpRequest, notice_id: str, payload: NetworkNoticeUpdateIn
) -> Status[NetworkNoticeOut]:

    require_write(request)
    notice = network_notice_by_public_id(notice_id)
    if notice is None:
        raise NotFound("No such notice.")
    network_notice_update(notice=notice, staff=signed_in_user(request), body=payload.body, resolve=payload.resolve)
    notice.refresh_from_db()
    return Status(201, _notice_out(notice))


class LegalDocumentOut(Schema):
    name: str
    sha256: str
    url: str


class LegalOrderOut(Schema):
    id: str
    kind: str
    issuer: str
    reference: str
    orders: list[str]
    customer: str | None
    service: str | None
    address: str | None
    received_at: dt.datetime
    document: LegalDocumentOut | None
    measures: dict[str, dict[str, str]] = Field(
        description="Each ordered action carried out: the measure it made, when and by whom (TOS-LEGAL-1)"
    )


class LegalExecuteIn(Schema):
    action: str = Field(
        max_length=20, description="One of the order's actions: shut_down, suspend_ip, preserve, provide_data"
    )
    reason: str = Field(default="", max_length=500, description="provide_data: why the export is made")
    start: dt.datetime | None = Field(default=None, description="provide_data: the period's start")
    end: dt.datetime | None = Field(default=None, description="provide_data: the period's end")


def _legal_order_out(order: Any) -> LegalOrderOut:
    document = None
    if order.document:
        document = LegalDocumentOut(
            name=order.document_name,
            sha256=order.document_sha256,
            url=f"/api/v1/staff/legal-orders/{order.public_id}/document",
        )
    return LegalOrderOut(
        id=order.public_id,
        kind=order.kind,
        issuer=order.issuer,
        reference=order.reference,
        orders=list(order.orders),
        customer=order.customer.public_id if order.customer else None,
        service=order.service.public_id if order.service else None,
        address=order.address,
        received_at=order.received_at,
        document=document,
        measures={action: {k: str(v) for k, v in done.items()} for action, done in order.measures.items()},
    )


def _legal_order(request: HttpRequest, order_id: str) -> Any:

    require_legal(signed_in_user(request))
    order = legal_order_by_public_id(order_id)
    if order is None:
        raise NotFound("No such legal order.")
    return order


@router.get(
    "/staff/legal-orders",
    auth=staff_auth("abuse.legal"),
    response={200: list[LegalOrderOut], **ERRORS},
    summary="Legal orders (staff with the legal permission; 404 for others)",
)
def staff_legal_orders(request: HttpRequest) -> list[LegalOrderOut]:

    require_legal(signed_in_user(request))
    return [_legal_order_out(o) for o in legal_orders(200)]


class LegalOrderIn(Schema):
    kind: str = Field(description="government, court or lawyer")
    issuer: str = Field(min_length=1, max_length=200)
    reference: str = Field(min_length=1, max_length=200)
    orders: list[str] = Field(description="shut_down, suspend_ip, preserve, provide_data")
    service: str | None = None
    address: str | None = None
    notes: str = Field(default="", max_length=5000)


@router.post(
    "/staff/legal-orders",
    auth=staff_auth("abuse.legal"),
    response={201: LegalOrderOut, **ERRORS},
    summary="Record a legal order (legal permission); its document is sent to /document",
)
def staff_legal_order_record(request: HttpRequest, payload: LegalOrderIn) -> Status[LegalOrderOut]:

    require_legal(signed_in_user(request))
    require_write(request)
    service = None
    if payload.service:
        service = service_by_public_id(payload.service)
        if service is None:
            raise InvalidInput("No such service.", field="service")
    order = legal_order_record(
        staff=signed_in_user(request),
        kind=payload.kind,
        issuer=payload.issuer,
        reference=payload.reference,
        orders=payload.orders,
        service=service,
        address=payload.address or "",
        notes=payload.notes,
    )
    return Status(201, _legal_order_out(order))


@router.post(
    "/staff/legal-orders/{order_id}/document",
    auth=staff_auth("abuse.legal"),
    response={201: LegalOrderOut, **ERRORS},
    summary="Attach the order's document (multipart, field 'document'); once attached it is never replaced (409)",
)
def staff_legal_order_document_attach(
    request: HttpRequest, order_id: str, document: File[UploadedFile]
) -> Status[LegalOrderOut]:

    order = _legal_order(request, order_id)
    require_write(request)
    attached = legal_order_attach(
        order=order, staff=signed_in_user(request), name=document.name or "", content=document.read()
    )
    return Status(201, _legal_order_out(attached))


@router.get(
    "/staff/legal-orders/{order_id}/document",
    auth=staff_auth("abuse.legal"),
    response={200: None, **ERRORS},
    summary="Download the order's document",
    openapi_extra={"responses": {200: {"content": {"application/octet-stream": {}}, "description": "file"}}},
)
def staff_legal_order_document(request: HttpRequest, order_id: str) -> FileResponse:

    order = _legal_order(request, order_id)
    if not order.document:
        raise NotFound("This order has no document.")
    return document_response(order)


@router.post(
    "/staff/legal-orders/{order_id}/execute",
    auth=staff_auth("abuse.legal"),
    response={200: LegalOrderOut, **ERRORS},
    summary="Carry out one action of the order through the abuse desk's measures; the link is recorded",
)
def staff_legal_order_execute(request: HttpRequest, order_id: str, payload: LegalExecuteIn) -> LegalOrderOut:
    require_write(request)
    order = _legal_order(request, order_id)
    legal_order_execute(
        order=order,
        staff=signed_in_user(request),
        action=payload.action,
        reason=payload.reason,
        start=payload.start,
        end=payload.end,
    )
    order.refresh_from_db()
    return _legal_order_out(order)
