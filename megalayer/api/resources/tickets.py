"""``/tickets`` (+ ``/{id}``, ``/{id}/messages``, ``/{id}/attachments/{file}``): the customer's support tickets."""

from __future__ import annotations

import datetime as dt

from django.http import FileResponse, HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.accounts.queries import signed_in_user
from megalayer.api.auth import require_write
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.resources.billing import _customer
from megalayer.api.schemas import Problem
from megalayer.core.errors import InvalidInput, NotFound
from megalayer.services.queries import services_of
from megalayer.support.actions import ticket_open, ticket_reply
from megalayer.support.choices import Via
from megalayer.support.models import Ticket, TicketMessage
from megalayer.support.queries import attachment_for_customer, departments, tickets_of, visible_messages
from megalayer.support.views_shared import attachment_response

router = Router(tags=["support"])
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class AttachmentOut(Schema):
    id: str
    name: str
    size: int
    url: str


class MessageOut(Schema):
    from_staff: bool
    body: str
    via: str
    created_at: dt.datetime
    attachments: list[AttachmentOut]


class TicketOut(Schema):
    id: str
    subject: str
    department: str
    service: str | None
    status: str
    priority: str
    created_at: dt.datetime
    updated_at: dt.datetime


class TicketDetailOut(TicketOut):
    messages: list[MessageOut]


class TicketPage(Schema):
    items: list[TicketOut]
    next: str | None


class TicketIn(Schema):
    department: str = Field(description="sales, billing, technical or abuse")
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=100_000, description="Plain text or Markdown")
    service: str | None = None


class ReplyIn(Schema):
    body: str = Field(min_length=1, max_length=100_000)


def _out(ticket: Ticket) -> TicketOut:
    return TicketOut(
        id=ticket.public_id,
        subject=ticket.subject,
        department=ticket.department.code,
        service=ticket.service.public_id if ticket.service else None,
        status=ticket.status,
        priority=ticket.priority,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
    )


def _message_out(ticket: Ticket, message: TicketMessage) -> MessageOut:
    return MessageOut(
        from_staff=message.from_staff,
        body=message.body,
        via=message.via,
        created_at=message.created_at,
        attachments=[
            AttachmentOut(
                id=a.public_id,
                name=a.name,
                size=a.size,
                url=f"/api/v1/tickets/{ticket.public_id}/attachments/{a.public_id}",
            )
            for a in message.attachments.all()
        ],
    )


def _ticket(request: HttpRequest, public_id: str) -> Ticket:
    ticket = tickets_of(_customer(request)).filter(public_id=public_id).first()
    if ticket is None:
        raise NotFound("No such ticket.")
    return ticket


@router.get("/tickets", response={200: TicketPage, **ERRORS}, summary="Your tickets, newest activity first")
def tickets_list(request: HttpRequest, cursor: Cursor = None, limit: Limit = 25) -> dict[str, object]:
    return paginate(tickets_of(_customer(request)), cursor=cursor, limit=limit, render=_out)


@router.post("/tickets", response={201: TicketDetailOut, **ERRORS}, summary="Open a ticket")
def tickets_create(request: HttpRequest, payload: TicketIn) -> Status[TicketDetailOut]:
    require_write(request)
    customer = _customer(request)
    department = departments().filter(code=payload.department).first()
    if department is None:
        raise InvalidInput("department is one of sales, billing, technical, abuse.", field="department")
    service = None
    if payload.service:
        service = services_of(customer).filter(public_id=payload.service).first()
        if service is None:
            raise InvalidInput("No such service.", field="service")
    ticket = ticket_open(
        customer=customer,
        department=department,
        subject=payload.subject,
        body=payload.body,
        user=signed_in_user(request),
        service=service,
        via=Via.API,
    )
    return Status(201, tickets_detail(request, ticket.public_id))


@router.get("/tickets/{ticket_id}", response={200: TicketDetailOut, **ERRORS}, summary="A ticket and its messages")
def tickets_detail(request: HttpRequest, ticket_id: str) -> TicketDetailOut:
    ticket = _ticket(request, ticket_id)
    thread = [_message_out(ticket, m) for m in visible_messages(ticket, staff=False)]
    return TicketDetailOut(**_out(ticket).model_dump(), messages=thread)


@router.post("/tickets/{ticket_id}/messages", response={201: TicketDetailOut, **ERRORS}, summary="Reply")
def tickets_reply(request: HttpRequest, ticket_id: str, payload: ReplyIn) -> Status[TicketDetailOut]:
    require_write(request)
    ticket = _ticket(request, ticket_id)
    ticket_reply(ticket=ticket, user=signed_in_user(request), body=payload.body, via=Via.API)
    return Status(201, tickets_detail(request, ticket.public_id))


@router.get(
    "/tickets/{ticket_id}/attachments/{attachment_id}",
    response={200: bytes, **ERRORS},
    summary="Download an attachment",
)
def tickets_attachment(request: HttpRequest, ticket_id: str, attachment_id: str) -> FileResponse:
    attachment = attachment_for_customer(_customer(request), ticket_id, attachment_id)
    if attachment is None:
        raise NotFound("No such file.")
    return attachment_response(attachment)
