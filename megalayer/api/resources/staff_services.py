"""``/staff/orders/{id}/approve|reject``, ``/staff/services/{id}/suspend|unsuspend|terminate``."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Router, Schema

from megalayer.abuse.actions import service_enforce
from megalayer.abuse.queries import case_by_public_id
from megalayer.accounts.queries import signed_in_user
from megalayer.api.auth import StaffTokenAuth, require_write, staff_auth
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.resources.services import (
    CancellationOut,
    OrderOut,
    ServiceOut,
    _order_out,
    cancellation_out,
    service_out,
)
from megalayer.api.schemas import Problem
from megalayer.core.errors import InvalidInput, NotFound
from megalayer.orders.actions import order_approve, order_reject
from megalayer.orders.models import Order
from megalayer.orders.queries import order_by_public_id
from megalayer.services.actions import service_deny_renewal
from megalayer.services.choices import CancelStatus, Reason
from megalayer.services.models import Service
from megalayer.services.queries import cancellations_search, service_by_public_id

router = Router(tags=["staff"], auth=StaffTokenAuth())
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class DecisionIn(Schema):
    note: str = Field(default="", max_length=2000)


class DenialIn(Schema):
    note: str = Field(min_length=1, max_length=2000, description="Why; recorded in the audit log, not sent")


class EnforcementIn(Schema):
    reason: Reason = Reason.STAFF
    note: str = Field(min_length=1, max_length=2000)
    requirement: str = Field(
        default="TOS-ABUSE-2", max_length=32, description="A requirement ID of the Terms in force (TOS-ABUSE-2)"
    )
    case: str = Field(
        default="", max_length=24, description="The abuse case (abc_…): required for abuse or a violation"
    )


def _order(order_id: str) -> Order:
    order = order_by_public_id(order_id)
    if order is None:
        raise NotFound("No such order.")
    return order


def _service(service_id: str) -> Service:
    service = service_by_public_id(service_id)
    if service is None:
        raise NotFound("No such service.")
    return service


@router.post(
    "/staff/orders/{order_id}/approve",
    auth=staff_auth("accounts.manage_services"),
    response={200: OrderOut, **ERRORS},
    summary="Approve a reviewed order",
)
def staff_order_approve(request: HttpRequest, order_id: str) -> OrderOut:
    require_write(request)
    return _order_out(order_approve(order=_order(order_id), staff=signed_in_user(request)))


@router.post(
    "/staff/orders/{order_id}/reject",
    auth=staff_auth("accounts.manage_services"),
    response={200: OrderOut, **ERRORS},
    summary="Refuse an order; what was paid returns to the balance (TOS-REFUSE-1)",
)
def staff_order_reject(request: HttpRequest, order_id: str, payload: DecisionIn) -> OrderOut:
    require_write(request)
    return _order_out(order_reject(order=_order(order_id), staff=signed_in_user(request), note=payload.note))


def _enforce(request: HttpRequest, service_id: str, measure: str, payload: EnforcementIn) -> ServiceOut:
    require_write(request)
    service = _service(service_id)
    case = None
    if payload.case:
        case = case_by_public_id(payload.case)
        if case is None:
            raise InvalidInput("No such case.", field="case")
    service = service_enforce(
        service=service,
        measure=measure,
        reason=payload.reason,
        staff=signed_in_user(request),
        requirement=payload.requirement,
        note=payload.note,
        case=case,
    )
    return service_out(service)


@router.post(
    "/staff/services/{service_id}/suspend",
    auth=staff_auth("accounts.manage_services"),
    response={200: ServiceOut, **ERRORS},
    summary="Suspend a service, naming the clause and, for abuse or a violation, the case (TOS-ABUSE-2)",
)
def staff_service_suspend(request: HttpRequest, service_id: str, payload: EnforcementIn) -> ServiceOut:
    return _enforce(request, service_id, "suspend", payload)


@router.post(
    "/staff/services/{service_id}/unsuspend",
    auth=staff_auth("accounts.manage_services"),
    response={200: ServiceOut, **ERRORS},
    summary="Lift a suspension",
)
def staff_service_unsuspend(request: HttpRequest, service_id: str, payload: EnforcementIn) -> ServiceOut:
    return _enforce(request, service_id, "unsuspend", payload)


@router.post(
    "/staff/services/{service_id}/terminate",
    auth=staff_auth("accounts.manage_services"),
    response={200: ServiceOut, **ERRORS},
    summary="Terminate a service and delete its data; for a violation, nothing is refunded (TOS-VIOLATION-1)",
)
def staff_service_terminate(request: HttpRequest, service_id: str, payload: EnforcementIn) -> ServiceOut:
    return _enforce(request, service_id, "terminate", payload)


@router.post(
    "/staff/services/{service_id}/deny-renewal",
    auth=staff_auth("accounts.manage_services"),
    response={200: ServiceOut, **ERRORS},
    summary="Deny renewal: the service ends at its expiry, the customer is told (TOS-REFUSE-1)",
)
def staff_service_deny_renewal(request: HttpRequest, service_id: str, payload: DenialIn) -> ServiceOut:
    require_write(request)
    service = service_deny_renewal(service=_service(service_id), staff=signed_in_user(request), note=payload.note)
    return service_out(service)


class CancellationPage(Schema):
    items: list[CancellationOut]
    next: str | None


@router.get(
    "/staff/cancellations",
    auth=staff_auth("accounts.view_customers"),
    response={200: CancellationPage, **ERRORS},
    summary="Customers' cancellation requests with their reasons (search: service, customer, e-mail)",
)
def staff_cancellations(
    request: HttpRequest, q: str = "", status: CancelStatus | None = None, cursor: Cursor = None, limit: Limit = 25
) -> dict[str, object]:
    return paginate(cancellations_search(q, status or ""), cursor=cursor, limit=limit, render=cancellation_out)
