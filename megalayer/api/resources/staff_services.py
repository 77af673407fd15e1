"""``/staff/orders/{id}/approve|reject``, ``/staff/services/{id}/suspend|unsuspend|terminate``."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Router, Schema

from megalayer.accounts.queries import signed_in_user
from megalayer.api.auth import StaffTokenAuth, require_write, staff_auth
from megalayer.api.resources.services import OrderOut, ServiceOut, _order_out, service_out
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.core.errors import NotFound
from megalayer.orders.actions import order_approve, order_reject
from megalayer.orders.models import Order
from megalayer.orders.queries import order_by_public_id
from megalayer.services.actions import service_suspend, service_terminate, service_unsuspend
from megalayer.services.choices import Reason
from megalayer.services.models import Service
from megalayer.services.queries import service_by_public_id

router = Router(tags=["staff"], auth=StaffTokenAuth())
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class DecisionIn(Schema):
    note: str = Field(default="", max_length=2000)


class EnforcementIn(Schema):
    reason: Reason = Reason.STAFF
    note: str = Field(min_length=1, max_length=2000)
    requirement: str = Field(default="TOS-ABUSE-2", pattern=r"^TOS-[A-Z]+-\d+$")


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


@router.post(
    "/staff/services/{service_id}/suspend",
    auth=staff_auth("accounts.manage_services"),
    response={200: ServiceOut, **ERRORS},
    summary="Suspend a service",
)
def staff_service_suspend(request: HttpRequest, service_id: str, payload: EnforcementIn) -> ServiceOut:
    require_write(request)
    service = service_suspend(
        service=_service(service_id),
        reason=payload.reason,
        actor=Actor.for_user(signed_in_user(request)),
        requirement=payload.requirement,
        note=payload.note,
    )
    return service_out(service)


@router.post(
    "/staff/services/{service_id}/unsuspend",
    auth=staff_auth("accounts.manage_services"),
    response={200: ServiceOut, **ERRORS},
    summary="Lift a suspension",
)
def staff_service_unsuspend(request: HttpRequest, service_id: str, payload: EnforcementIn) -> ServiceOut:
    require_write(request)
    service = service_unsuspend(
        service=_service(service_id),
        actor=Actor.for_user(signed_in_user(request)),
        requirement=payload.requirement,
        note=payload.note,
    )
    return service_out(service)


@router.post(
    "/staff/services/{service_id}/terminate",
    auth=staff_auth("accounts.manage_services"),
    response={200: ServiceOut, **ERRORS},
    summary="Terminate a service and delete its data",
)
def staff_service_terminate(request: HttpRequest, service_id: str, payload: EnforcementIn) -> ServiceOut:
    require_write(request)
    service = service_terminate(
        service=_service(service_id),
        reason=payload.reason,
        actor=Actor.for_user(signed_in_user(request)),
        requirement=payload.requirement,
        note=payload.note,
    )
    return service_out(service)
