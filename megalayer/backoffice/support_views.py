"""Back office: the support desk (TOS-TICKET-1): queues by status and department, replies with canned
answers, internal notes the customer never sees, status, priority and assignee."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.queries import signed_in_user, staff_member, staff_members
from megalayer.backoffice.access import staff_required
from megalayer.core.errors import DomainError
from megalayer.support.actions import ticket_reply, ticket_set
from megalayer.support.choices import Priority, Status, Via
from megalayer.support.queries import (
    attachment_for_staff,
    canned_replies_for,
    canned_reply,
    departments,
    ticket_for_staff,
    ticket_search,
    ticket_status_counts,
    tickets_for_staff,
    visible_messages,
)
from megalayer.support.views_shared import attachment_response, uploads_from


@staff_required("accounts.manage_tickets")
def tickets(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    status, department, mine = request.GET.get("status", ""), request.GET.get("department", ""), request.GET.get("mine")
    rows = ticket_search(tickets_for_staff(), query)
    if status == "waiting":
        rows = rows.filter(status__in=[Status.OPEN, Status.CUSTOMER_REPLY])
    elif status:
        rows = rows.filter(status=status)
    if department:
        rows = rows.filter(department__code=department)
    if mine:
        rows = rows.filter(assignee_id=request.user.pk)
    counts = ticket_status_counts()
    page = Paginator(rows.order_by("-updated_at"), 25).get_page(request.GET.get("page"))
    extra = "".join(f"{k}={v}&" for k, v in (("status", status), ("department", department), ("mine", mine)) if v)
    context = {
        "page": page,
        "q": query,
        "status": status,
        "department": department,
        "mine": mine,
        "statuses": [(value, label, counts.get(value, 0)) for value, label in Status.choices],
        "departments": departments(),
        "extra_query": extra,
    }
    return render(request, "backoffice/tickets.html", context)


@staff_required("accounts.manage_tickets")
def ticket_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    ticket = ticket_for_staff(public_id)
    if ticket is None:
        raise Http404("No such ticket.")
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "reply":
                body = request.POST.get("body", "")
                canned = canned_reply(request.POST.get("canned"))
                if not body.strip() and canned is not None:
                    body = canned.body
                ticket_reply(
                    ticket=ticket,
                    user=signed_in_user(request),
                    body=body,
                    uploads=uploads_from(request.FILES.getlist("attachments"), settings.MEGALAYER_ATTACHMENT_MAX_BYTES),
                    via=Via.STAFF,
                    as_staff=True,
                    internal=request.POST.get("internal") == "yes",
                )
                messages.success(request, "Note added." if request.POST.get("internal") == "yes" else "Reply sent.")
            elif action == "set":
                assignee_id = request.POST.get("assignee", "")
                assignee = staff_member(assignee_id) if assignee_id else None
                ticket_set(
                    ticket=ticket,
                    staff=signed_in_user(request),
                    status=request.POST.get("status") or None,
                    priority=request.POST.get("priority") or None,
                    assignee=assignee,
                )
                messages.success(request, "Saved.")
        except DomainError as error:
            messages.error(request, error.detail)
        return redirect("backoffice:ticket_detail", public_id=ticket.public_id)
    context = {
        "ticket": ticket,
        "thread": visible_messages(ticket, staff=True),
        "canned": canned_replies_for(ticket),
        "staff_members": staff_members(active_only=True),
        "statuses": Status.choices,
        "priorities": Priority.choices,
    }
    return render(request, "backoffice/ticket_detail.html", context)


@staff_required("accounts.manage_tickets")
def ticket_attachment(request: HttpRequest, public_id: str, attachment_id: str) -> FileResponse:
    attachment = attachment_for_staff(public_id, attachment_id)
    if attachment is None:
        raise Http404("No such file.")
    return attachment_response(attachment)
