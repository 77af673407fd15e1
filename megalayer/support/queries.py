"""Reads of the support desk. Every customer-facing read goes through ``tickets_of``: another customer's
ticket, message or attachment is simply not found."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from megalayer.support.models import Attachment, Department, Ticket, TicketMessage


def departments() -> QuerySet[Department]:
    """The four departments of TOS-TICKET-1 (restored if someone removed them)."""
    from megalayer.support.seed import DEPARTMENTS, seed

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
