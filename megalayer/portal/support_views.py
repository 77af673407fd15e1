"""Client area: the customer's tickets (TOS-TICKET-1). Another customer's ticket or file is a 404."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.models import Customer
from megalayer.accounts.queries import signed_in_user
from megalayer.core.errors import DomainError
from megalayer.portal.billing_views import _customer
from megalayer.services.queries import services_of
from megalayer.support.actions import ticket_close, ticket_open, ticket_reopen, ticket_reply
from megalayer.support.choices import Status
from megalayer.support.queries import (
    attachment_for_customer,
    department_choices,
    departments,
    ticket_search,
    tickets_of,
    visible_messages,
)
from megalayer.support.views_shared import attachment_response, uploads_from


class TicketForm(forms.Form):
    department = forms.ModelChoiceField(queryset=department_choices(), to_field_name="code", empty_label=None)
    service = forms.ChoiceField(required=False, label="About service (optional)")
    subject = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), label="Message", help_text="Markdown allowed.")

    def __init__(self, customer: Customer, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["department"].queryset = departments()  # type: ignore[attr-defined]
        choices = [("", "—")] + [
            (s.public_id, f"{s.public_id} · {s.product.name}") for s in services_of(customer).select_related("product")
        ]
        self.fields["service"].choices = choices  # type: ignore[attr-defined]


@login_required
def tickets(request: HttpRequest) -> HttpResponse:
    query, status = request.GET.get("q", ""), request.GET.get("status", "")
    rows = ticket_search(tickets_of(_customer(request)), query)
    if status == "open":
        rows = rows.exclude(status=Status.CLOSED)
    elif status == "closed":
        rows = rows.filter(status=Status.CLOSED)
    page = Paginator(rows, 20).get_page(request.GET.get("page"))
    context = {"page": page, "q": query, "status": status, "extra_query": f"status={status}&" if status else ""}
    return render(request, "portal/tickets.html", context)


@login_required
def ticket_new(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = TicketForm(customer, request.POST or None, initial={"service": request.GET.get("service", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        service = services_of(customer).filter(public_id=data["service"]).first() if data["service"] else None
        try:
            ticket = ticket_open(
                customer=customer,
                department=data["department"],
                subject=data["subject"],
                body=data["body"],
                user=signed_in_user(request),
                service=service,
                uploads=uploads_from(request.FILES.getlist("attachments"), settings.MEGALAYER_ATTACHMENT_MAX_BYTES),
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, f"Ticket {ticket.public_id} opened; we e-mailed you a copy.")
            return redirect("portal:ticket_detail", public_id=ticket.public_id)
    return render(request, "portal/ticket_new.html", {"form": form})


@login_required
def ticket_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    ticket = tickets_of(_customer(request)).filter(public_id=public_id).first()
    if ticket is None:
        raise Http404("No such ticket.")
    if request.method == "POST":
        action = request.POST.get("action", "reply")
        try:
            if action == "close":
                ticket_close(ticket=ticket, user=signed_in_user(request))
                messages.success(request, "Ticket closed.")
            elif action == "reopen":
                ticket_reopen(ticket=ticket, user=signed_in_user(request))
                messages.success(request, "Ticket reopened.")
            else:
                ticket_reply(
                    ticket=ticket,
                    user=signed_in_user(request),
                    body=request.POST.get("body", ""),
                    uploads=uploads_from(request.FILES.getlist("attachments"), settings.MEGALAYER_ATTACHMENT_MAX_BYTES),
                )
                messages.success(request, "Reply sent.")
        except DomainError as error:
            messages.error(request, error.detail)
        return redirect("portal:ticket_detail", public_id=ticket.public_id)
    thread = visible_messages(ticket, staff=False)
    return render(request, "portal/ticket_detail.html", {"ticket": ticket, "thread": thread})


@login_required
def ticket_attachment(request: HttpRequest, public_id: str, attachment_id: str) -> FileResponse:
    attachment = attachment_for_customer(_customer(request), public_id, attachment_id)
    if attachment is None:
        raise Http404("No such file.")
    return attachment_response(attachment)
