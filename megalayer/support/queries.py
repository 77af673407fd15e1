"""Reads of the support desk. Every customer-facing read goes through ``tickets_of``: another customer's
ticket, message or attachment is simply not found."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from megalayer.core.ids import pk_or_none
from megalayer.support.models import Attachment, CannedReply, Department, Ticket, TicketMessage
from megalayer.support.seed import DEPARTMENTS, seed


def departments() -> QuerySet[Department]:
    """The four departments of TOS-TICKET-1 (restored if someone removed them)."""

    if Department.objects.count() < len(DEPARTMENTS):
        seed(Department)
    return Department.objects.all()


def tickets_of(customer: Any) -> QuerySet[Ticket]:
    return Ticket.objects.filter(customer=customer).select_related("department", "service")


def ticket_search(rows: QuerySet[Ticket], query: str) -> QuerySet[Ticket]:
    query = query.strip()
    if not query:
        return rows
    return rows.filter(
        Q(public_id=query) | Q(subject__icontains=query) | Q(customer__owner__email__icontains=query)
    ).distinct()


def visible_messages(ticket: Ticket, *, staff: bool) -> QuerySet[TicketMessage]:
    rows = ticket.messages.select_related("author").prefetch_related("attachments")
    return rows if staff else rows.filter(internal=False)


def attachment_for_customer(customer: Any, ticket_id: str, attachment_id: str) -> Attachment | None:
    return (
        Attachment.objects.filter(
            public_id=attachment_id,
            message__ticket__public_id=ticket_id,
            message__ticket__customer=customer,
            message__internal=False,
        )
        .select_related("message__ticket")
        .first()
    )


def tickets_for_staff() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("customer__owner", "department", "assignee")


def ticket_status_counts() -> dict[str, int]:
    return dict(Ticket.objects.values_list("status").annotate(n=Count("id")))


def ticket_for_staff(public_id: str) -> Ticket | None:
    rows = Ticket.objects.select_related("customer__owner", "department", "service", "assignee")
    return rows.filter(public_id=public_id).first()


def canned_replies_for(ticket: Ticket) -> QuerySet[CannedReply]:
    """The department's canned replies and those for every department."""
    return CannedReply.objects.filter(Q(department=ticket.department_id) | Q(department__isnull=True))


def canned_reply(pk: object) -> CannedReply | None:
    key = pk_or_none(pk)
    return CannedReply.objects.filter(pk=key).first() if key is not None else None


def attachment_for_staff(ticket_id: str, attachment_id: str) -> Attachment | None:
    return Attachment.objects.filter(public_id=attachment_id, message__ticket__public_id=ticket_id).first()


def department_choices() -> QuerySet[Department]:
    """The departments as a lazy choice list for a form field (evaluated when the form is shown)."""
    return Department.objects.all()
