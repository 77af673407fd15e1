"""``staff/customers`` (+ ``/{id}``), ``staff/audit`` (+ ``/verify``) and ``staff/terms`` (publish a version):
what the back office shows of customers, the audit trail and the Terms, for staff tools."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.abuse.choices import OPEN_CASE_STATUSES
from megalayer.accounts.actions.approvals import approval_decide
from megalayer.accounts.models import Approval, Customer
from megalayer.accounts.queries import approval_by_public_id, approvals_for_staff, customers_search, signed_in_user
from megalayer.accounts.roles import ANY_STAFF
from megalayer.api.auth import StaffTokenAuth, require_write, staff_auth
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.resources.billing import MoneyOut, money_out
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.audit.queries import audit_search, audit_verify
from megalayer.core.errors import NotFound
from megalayer.ledger.queries import customer_balances
from megalayer.terms.actions import terms_publish

router = Router(tags=["staff"], auth=StaffTokenAuth())
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class CustomerOut(Schema):
    id: str
    email: str
    name: str
    status: str
    kind: str
    country: str | None
    created_at: dt.datetime
    email_bounced_at: dt.datetime | None
    erased_at: dt.datetime | None


class CustomerDetailOut(CustomerOut):
    balances: list[MoneyOut]
    services: dict[str, int]
    open_abuse_cases: int
    deletion: dict[str, Any] | None


class CustomerPage(Schema):
    items: list[CustomerOut]
    next: str | None


def _customer_out(customer: Customer) -> CustomerOut:
    profile = getattr(customer, "billing_profile", None)
    return CustomerOut(
        id=customer.public_id,
        email=customer.owner.email,
        name=profile.name if profile else customer.owner.full_name,
        status=customer.status,
        kind=customer.kind,
        country=profile.country if profile else None,
        created_at=customer.created_at,
        email_bounced_at=customer.owner.email_bounced_at,
        erased_at=customer.erased_at,
    )


@router.get(
    "/staff/customers",
    auth=staff_auth("accounts.view_customers"),
    response={200: CustomerPage, **ERRORS},
    summary="Customers (search: e-mail, name, id)",
)
def staff_customers(request: HttpRequest, q: str = "", cursor: Cursor = None, limit: Limit = 25) -> dict[str, object]:
    return paginate(customers_search(q), cursor=cursor, limit=limit, render=_customer_out)


@router.get(
    "/staff/customers/{customer_id}",
    auth=staff_auth("accounts.view_customers"),
    response={200: CustomerDetailOut, **ERRORS},
    summary="A customer",
)
def staff_customer(request: HttpRequest, customer_id: str) -> CustomerDetailOut:
    from django.db.models import Count

    customer = customers_search("").filter(public_id=customer_id).first()
    if customer is None:
        raise NotFound("No such customer.")
    services = dict(customer.services.values_list("status").annotate(n=Count("id")).order_by())
    pending = customer.erasure_requests.order_by("-requested_at").first()
    deletion = None
    if pending is not None:
        deletion = {
            "id": pending.public_id,
            "status": pending.status,
            "erase_after": pending.erase_after.isoformat(),
            "held_by": pending.held_by or None,
        }
    return CustomerDetailOut(
        **_customer_out(customer).dict(),
        balances=[money_out(m.amount, m.currency) for m in customer_balances(customer)],
        services=services,
        open_abuse_cases=customer.abuse_cases.filter(status__in=OPEN_CASE_STATUSES).count(),
        deletion=deletion,
    )


class AuditEventOut(Schema):
    id: int
    occurred_at: dt.datetime
    actor_kind: str
    actor: str
    action: str
    target_type: str
    target_id: str
    requirement: str
    terms_version: int | None
    data: dict[str, Any]
    hash: str


class AuditPage(Schema):
    items: list[AuditEventOut]
    next: str | None


class VerifyOut(Schema):
    ok: bool
    checked: int
    broken_event_id: int | None
    reason: str


def _event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        occurred_at=event.occurred_at,
        actor_kind=event.actor_kind,
        actor=event.actor_label,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        requirement=event.requirement,
        terms_version=event.terms_version,
        data=event.data,
        hash=event.hash,
    )


@router.get(
    "/staff/audit",
    auth=staff_auth("accounts.view_audit"),
    response={200: AuditPage, **ERRORS},
    summary="The audit trail, newest first; filter by action prefix, requirement, target or actor",
)
def staff_audit(
    request: HttpRequest,
    action: str = "",
    requirement: str = "",
    target_id: str = "",
    actor: str = "",
    cursor: Cursor = None,
    limit: Limit = 25,
) -> dict[str, object]:
    events = audit_search(action=action, requirement=requirement, target_id=target_id, actor=actor)
    return paginate(events, cursor=cursor, limit=limit, render=_event_out)


@router.get(
    "/staff/audit/verify",
    auth=staff_auth("accounts.view_audit"),
    response={200: VerifyOut, **ERRORS},
    summary="Walk the hash chain; name the first break",
)
def staff_audit_verify(request: HttpRequest) -> VerifyOut:
    result = audit_verify()
    return VerifyOut(ok=result.ok, checked=result.checked, broken_event_id=result.broken_event_id, reason=result.reason)


class TermsIn(Schema):
    body: str = Field(min_length=1)
    summary: str = Field(min_length=1, max_length=5000, description="What changed, in plain words; e-mailed")
    update_date: dt.date
    effective_at: dt.datetime = Field(description="Not in the past; customers are told before it")
    policy: dict[str, Any] = Field(description="Every policy parameter (see GET /terms/current)")


class PublishedOut(Schema):
    version: int
    effective_at: dt.datetime


@router.post(
    "/staff/terms",
    auth=staff_auth("accounts.manage_terms"),
    response={201: PublishedOut, **ERRORS},
    summary="Publish a new version of the Terms",
)
def staff_terms_publish(request: HttpRequest, payload: TermsIn) -> Status[PublishedOut]:
    require_write(request)
    version = terms_publish(
        body=payload.body,
        summary=payload.summary,
        update_date=payload.update_date,
        effective_at=payload.effective_at,
        policy=payload.policy,
        actor=Actor.for_user(signed_in_user(request)),
        published_by=request.user,
    )
    return Status(201, PublishedOut(version=version.number, effective_at=version.effective_at))


class ApprovalOut(Schema):
    id: str
    kind: str
    summary: str
    status: str
    requested_by: str
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str
    result: str


class DecisionIn(Schema):
    note: str = Field(default="", max_length=500)


def approval_out(approval: Approval) -> ApprovalOut:
    return ApprovalOut(
        id=approval.public_id,
        kind=approval.kind,
        summary=approval.summary,
        status=approval.status,
        requested_by=approval.requested_by.email,
        requested_at=approval.requested_at,
        decided_by=approval.decided_by.email if approval.decided_by else None,
        decided_at=approval.decided_at,
        note=approval.note,
        result=approval.result,
    )


@router.get(
    "/staff/approvals",
    auth=staff_auth(ANY_STAFF),
    response={200: list[ApprovalOut], **ERRORS},
    summary="Requests waiting for a second staff member (four eyes), newest first",
)
def staff_approvals(request: HttpRequest, status: str = "pending") -> list[ApprovalOut]:
    rows = approvals_for_staff().filter(status=status)[:200]
    return [approval_out(a) for a in rows]


def _decide(request: HttpRequest, approval_id: str, payload: DecisionIn, *, approve: bool) -> ApprovalOut:
    require_write(request)
    approval = approval_by_public_id(approval_id)
    if approval is None:
        raise NotFound("No such request.")
    return approval_out(
        approval_decide(approval=approval, staff=signed_in_user(request), approve=approve, note=payload.note)
    )


@router.post(
    "/staff/approvals/{approval_id}/approve",
    auth=staff_auth(ANY_STAFF),
    response={200: ApprovalOut, **ERRORS},
    summary="Approve, and so carry out, another staff member's request (needs the request's permission)",
)
def staff_approval_approve(request: HttpRequest, approval_id: str, payload: DecisionIn) -> ApprovalOut:
    return _decide(request, approval_id, payload, approve=True)


@router.post(
    "/staff/approvals/{approval_id}/reject",
    auth=staff_auth(ANY_STAFF),
    response={200: ApprovalOut, **ERRORS},
    summary="Reject another staff member's request (a note says why)",
)
def staff_approval_reject(request: HttpRequest, approval_id: str, payload: DecisionIn) -> ApprovalOut:
    return _decide(request, approval_id, payload, approve=False)
