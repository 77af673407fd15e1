"""``staff/abuse/reports``, ``staff/abuse/cases``, ``staff/legal-holds`` and the customer's ``abuse/cases``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.abuse.actions import (
    account_close,
    account_suspend,
    case_answer,
    repeat_offence_decide,
    report_receive,
)
from megalayer.abuse.actions.holds import legal_hold_place, legal_hold_release_request, legal_hold_renew
from megalayer.abuse.choices import Source
from megalayer.abuse.models import AbuseCase, AbuseReport, LegalHold
from megalayer.abuse.queries import (
    case_by_public_id,
    case_complaints,
    case_of,
    cases_for_staff,
    cases_of,
    legal_hold_by_public_id,
    legal_holds_for_staff,
    repeat_offence_by_public_id,
    repeat_offences_for_staff,
    reports_for_staff,
)
from megalayer.accounts.queries import customer_by_public_id, signed_in_user
from megalayer.api.auth import StaffTokenAuth, require_write, staff_auth
from megalayer.api.resources.billing import _customer
from megalayer.api.resources.staff_accounts import ApprovalOut, approval_out
from megalayer.api.schemas import Problem
from megalayer.core.errors import InvalidInput, NotFound
from megalayer.services.queries import service_by_public_id, services_of

staff_router = Router(tags=["staff"], auth=StaffTokenAuth())
router = Router(tags=["abuse"])
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class EventOut(Schema):
    address: str
    occurred_at: dt.datetime
    category: str
    confirmed: bool
    customer: str | None
    case: str | None


class ReportOut(Schema):
    id: str
    received_at: dt.datetime
    sha256: str
    parser: str
    parse_error: str
    needs_triage: bool
    events: list[EventOut]


class CaseOut(Schema):
    id: str
    category: str
    status: str
    service: str | None
    opened_at: dt.datetime
    deadline_at: dt.datetime


class CaseMessageOut(Schema):
    from_staff: bool
    author: str
    body: str
    created_at: dt.datetime


class CaseDetailOut(CaseOut):
    escalated_at: dt.datetime | None = Field(description="When the deadline passed without an answer")
    closed_at: dt.datetime | None
    addresses: list[str] = Field(description="Your addresses the complaints name")
    complaints: list[str] = Field(description="Each complaint's text, reporters' contact details redacted")
    messages: list[CaseMessageOut] = Field(description="Your answers and the abuse desk's, oldest first")


class AnswerIn(Schema):
    body: str = Field(min_length=1, max_length=20000)


class HoldIn(Schema):
    reason: str = Field(min_length=1, max_length=500)
    customer: str | None = Field(default=None, description="cus_ id: everything of the customer")
    service: str | None = None
    address: str | None = None
    ends_at: dt.datetime | None = Field(default=None, description="Empty: legal_hold.default_days of the Terms")
    open_ended: bool = Field(default=False, description="Stands until released")
    order_reference: str = Field(default="", max_length=200)


class RenewIn(Schema):
    note: str = Field(min_length=1, max_length=2000)
    ends_at: dt.datetime | None = Field(description="The new end; null: until released")


class HoldOut(Schema):
    id: str
    reason: str
    service: str | None
    customer: str | None
    address: str | None
    placed_at: dt.datetime
    ends_at: dt.datetime | None
    released_at: dt.datetime | None
    evidence: dict[str, Any]


class ReleaseIn(Schema):
    note: str = Field(min_length=1, max_length=2000)


def _report_out(report: AbuseReport) -> ReportOut:
    return ReportOut(
        id=report.public_id,
        received_at=report.received_at,
        sha256=report.sha256,
        parser=report.parser,
        parse_error=report.parse_error,
        needs_triage=report.needs_triage,
        events=[
            EventOut(
                address=e.address,
                occurred_at=e.occurred_at,
                category=e.category,
                confirmed=e.confirmed,
                customer=e.assignment.customer.public_id if e.assignment else None,
                case=e.case.public_id if e.case else None,
            )
            for e in report.events.select_related("assignment__customer", "case")
        ],
    )


def _case_out(case: AbuseCase) -> CaseOut:
    return CaseOut(
        id=case.public_id,
        category=case.category,
        status=case.status,
        service=case.service.public_id if case.service else None,
        opened_at=case.opened_at,
        deadline_at=case.deadline_at,
    )


def _hold(hold_id: str) -> LegalHold:
    hold = legal_hold_by_public_id(hold_id)
    if hold is None:
        raise NotFound("No such hold.")
    return hold


def _hold_out(hold: LegalHold) -> HoldOut:
    return HoldOut(
        id=hold.public_id,
        reason=hold.reason,
        service=hold.service.public_id if hold.service else None,
        customer=hold.customer.public_id if hold.customer else None,
        address=hold.address,
        placed_at=hold.placed_at,
        ends_at=hold.ends_at,
        released_at=hold.released_at,
        evidence=hold.evidence,
    )


@staff_router.post(
    "/staff/abuse/reports",
    auth=staff_auth("accounts.manage_abuse"),
    response={201: ReportOut, 200: ReportOut, **ERRORS},
    summary="Submit a raw report (RFC 5322 or text); stored unchanged, then parsed and attributed",
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def staff_abuse_report(request: HttpRequest) -> Status[ReportOut]:
    require_write(request)
    report, created = report_receive(raw=request.body, source=Source.API)
    return Status(201 if created else 200, _report_out(report))


@staff_router.get(
    "/staff/abuse/reports",
    auth=staff_auth("accounts.manage_abuse"),
    response={200: list[ReportOut], **ERRORS},
    summary="Abuse reports",
)
def staff_abuse_reports(request: HttpRequest, triage: bool = False) -> list[ReportOut]:
    return [_report_out(r) for r in reports_for_staff(triage=triage)[:100]]


@staff_router.get(
    "/staff/abuse/cases",
    auth=staff_auth("accounts.manage_abuse"),
    response={200: list[CaseOut], **ERRORS},
    summary="Abuse cases",
)
def staff_abuse_cases(request: HttpRequest, status: str = "") -> list[CaseOut]:
    return [_case_out(c) for c in cases_for_staff(status)[:200]]


@staff_router.get(
    "/staff/legal-holds",
    auth=staff_auth("accounts.manage_holds"),
    response={200: list[HoldOut], **ERRORS},
    summary="Legal holds",
)
def staff_legal_holds(request: HttpRequest) -> list[HoldOut]:
    return [_hold_out(h) for h in legal_holds_for_staff()]


@staff_router.post(
    "/staff/legal-holds",
    auth=staff_auth("accounts.manage_holds"),
    response={201: HoldOut, **ERRORS},
    summary="Place a legal hold (TOS-HOLD-1)",
)
def staff_legal_hold_place(request: HttpRequest, payload: HoldIn) -> Status[HoldOut]:
    require_write(request)
    service = customer = None
    if payload.service:
        service = service_by_public_id(payload.service)
        if service is None:
            raise InvalidInput("No such service.", field="service")
    if payload.customer:
        customer = customer_by_public_id(payload.customer)
        if customer is None:
            raise InvalidInput("No such customer.", field="customer")
    hold = legal_hold_place(
        staff=signed_in_user(request),
        reason=payload.reason,
        customer=customer,
        service=service,
        address=payload.address or "",
        ends_at=payload.ends_at,
        open_ended=payload.open_ended,
        order_reference=payload.order_reference,
    )
    return Status(201, _hold_out(hold))


@staff_router.post(
    "/staff/legal-holds/{hold_id}/renew",
    auth=staff_auth("accounts.manage_holds"),
    response={200: HoldOut, **ERRORS},
    summary="Renew a standing legal hold to a later end, or until released",
)
def staff_legal_hold_renew(request: HttpRequest, hold_id: str, payload: RenewIn) -> HoldOut:
    require_write(request)
    return _hold_out(
        legal_hold_renew(hold=_hold(hold_id), staff=signed_in_user(request), note=payload.note, ends_at=payload.ends_at)
    )


@staff_router.post(
    "/staff/legal-holds/{hold_id}/release",
    auth=staff_auth("accounts.manage_holds"),
    response={202: ApprovalOut, **ERRORS},
    summary="Ask to release a legal hold: a second staff member approves it (four eyes)",
)
def staff_legal_hold_release(request: HttpRequest, hold_id: str, payload: ReleaseIn) -> Status[ApprovalOut]:
    require_write(request)
    asked = legal_hold_release_request(hold=_hold(hold_id), staff=signed_in_user(request), note=payload.note)
    return Status(202, approval_out(asked))


@router.get("/abuse/cases", response={200: list[CaseOut], **ERRORS}, summary="Complaints about your services")
def abuse_cases(request: HttpRequest) -> list[CaseOut]:
    return [_case_out(c) for c in cases_of(_customer(request))]


@router.get("/abuse/cases/{case_id}", response={200: CaseDetailOut, **ERRORS}, summary="A complaint and its thread")
def abuse_case(request: HttpRequest, case_id: str) -> CaseDetailOut:
    case = case_of(_customer(request), case_id)
    if case is None:
        raise NotFound("No such case.")
    return CaseDetailOut(
        **_case_out(case).dict(),
        escalated_at=case.deadline_action_at,
        closed_at=case.closed_at,
        addresses=sorted(set(case.events.values_list("address", flat=True))),
        complaints=case_complaints(case),
        messages=[
            CaseMessageOut(from_staff=m.from_staff, author=m.author, body=m.body, created_at=m.created_at)
            for m in case.messages.all()
        ],
    )


@router.post("/abuse/cases/{case_id}/answers", response={201: CaseOut, **ERRORS}, summary="Answer a complaint")
def abuse_case_answer(request: HttpRequest, case_id: str, payload: AnswerIn) -> Status[CaseOut]:
    require_write(request)
    case = case_of(_customer(request), case_id)
    if case is None:
        raise NotFound("No such case.")
    case_answer(case=case, customer=case.customer, body=payload.body, author=str(request.user))
    case.refresh_from_db()
    return Status(201, _case_out(case))


class AccountOut(Schema):
    id: str
    status: str
    services: dict[str, str] = Field(description="Each service and its status after the measure")


def _account_out(customer: Any) -> AccountOut:
    return AccountOut(
        id=customer.public_id,
        status=customer.status,
        services={s.public_id: s.status for s in services_of(customer)},
    )


class AccountMeasureIn(Schema):
    requirement: str = Field(
        default="TOS-VIOLATION-1", max_length=32, description="A requirement ID of the Terms in force"
    )
    case: str = Field(
        default="", max_length=24, description="The abuse case (abc_…): required for abuse or a violation"
    )
    note: str = Field(min_length=1, max_length=2000, description="Why; recorded in the audit log")


def _account_measure(request: HttpRequest, customer_id: str, payload: AccountMeasureIn) -> tuple[Any, Any]:
    require_write(request)
    customer = customer_by_public_id(customer_id)
    if customer is None:
        raise NotFound("No such customer.")
    case = None
    if payload.case:
        case = case_by_public_id(payload.case)
        if case is None:
            raise InvalidInput("No such case.", field="case")
    return customer, case


@staff_router.post(
    "/staff/customers/{customer_id}/suspend",
    auth=staff_auth("accounts.manage_abuse"),
    response={200: AccountOut, **ERRORS},
    summary="Suspend the whole account: every active service, and no new orders (TOS-VIOLATION-1)",
)
def staff_account_suspend(request: HttpRequest, customer_id: str, payload: AccountMeasureIn) -> AccountOut:
    customer, case = _account_measure(request, customer_id, payload)
    done = account_suspend(
        customer=customer, staff=signed_in_user(request), requirement=payload.requirement, note=payload.note, case=case
    )
    return _account_out(done)


@staff_router.post(
    "/staff/customers/{customer_id}/close",
    auth=staff_auth("accounts.manage_abuse"),
    response={200: AccountOut, **ERRORS},
    summary="Close the whole account: every service terminated, its data deleted, nothing refunded, sign-in "
    "ended; a legal hold stops it (TOS-VIOLATION-1, TOS-HOLD-1)",
)
def staff_account_close(request: HttpRequest, customer_id: str, payload: AccountMeasureIn) -> AccountOut:
    customer, case = _account_measure(request, customer_id, payload)
    done = account_close(
        customer=customer, staff=signed_in_user(request), requirement=payload.requirement, note=payload.note, case=case
    )
    return _account_out(done)


class RepeatOffenceOut(Schema):
    id: str
    customer: str
    cases: list[str]
    detected_at: dt.datetime
    outcome: str = Field(description="proposed, suspended or dismissed")
    decided_at: dt.datetime | None
    decided_by: str
    note: str


class RepeatDecisionIn(Schema):
    suspend: bool = Field(description="true: suspend the account, naming the latest case; false: dismiss")
    note: str = Field(min_length=1, max_length=500, description="Why")


def _offence_out(offence: Any) -> RepeatOffenceOut:
    return RepeatOffenceOut(
        id=offence.public_id,
        customer=offence.customer.public_id,
        cases=list(offence.cases),
        detected_at=offence.detected_at,
        outcome=offence.outcome,
        decided_at=offence.decided_at,
        decided_by=offence.decided_by,
        note=offence.note,
    )


@staff_router.get(
    "/staff/abuse/repeat-offences",
    auth=staff_auth("accounts.manage_abuse"),
    response={200: list[RepeatOffenceOut], **ERRORS},
    summary="Repeat offences found by the policy (abuse.repeat_offence), newest first (TOS-ABUSE-2)",
)
def staff_repeat_offences(request: HttpRequest, outcome: str = "") -> list[RepeatOffenceOut]:
    return [_offence_out(o) for o in repeat_offences_for_staff(outcome)[:200]]


@staff_router.post(
    "/staff/abuse/repeat-offences/{offence_id}/decide",
    auth=staff_auth("accounts.manage_abuse"),
    response={200: RepeatOffenceOut, **ERRORS},
    summary="Decide a proposed repeat offence: suspend the account or dismiss it",
)
def staff_repeat_offence_decide(request: HttpRequest, offence_id: str, payload: RepeatDecisionIn) -> RepeatOffenceOut:
    require_write(request)
    offence = repeat_offence_by_public_id(offence_id)
    if offence is None:
        raise NotFound("No such repeat offence.")
    decided = repeat_offence_decide(
        offence=offence, staff=signed_in_user(request), suspend=payload.suspend, note=payload.note
    )
    return _offence_out(decided)
