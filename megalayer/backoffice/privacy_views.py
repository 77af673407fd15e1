"""Back office: account deletions (TOS-PRIVACY-1). Staff see each request with what stops it (a legal
hold, a notice still in the outbox), schedule one for a customer who asked in writing, cancel one,
and download a customer's data for a request that came by mail; every step is audited."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.queries import customer_by_public_id, signed_in_user
from megalayer.audit.actions import Actor
from megalayer.backoffice.access import staff_required
from megalayer.core.errors import DomainError, InvalidInput
from megalayer.privacy.actions import erasure_cancel, erasure_request
from megalayer.privacy.models import ErasureRequest
from megalayer.privacy.queries import erasure_scheduled, erasures_for_staff
from megalayer.privacy.views_shared import export_response


@staff_required("accounts.manage_holds")
def erasures(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = erasures_for_staff(status)
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    context = {"page": page, "status": status, "statuses": ErasureRequest.Status.choices}
    return render(request, "backoffice/erasures.html", context)


@staff_required("accounts.manage_holds")
def customer_privacy(request: HttpRequest, public_id: str) -> HttpResponse:
    """POST only: ``export`` (the zip), ``schedule`` or ``cancel`` (with a note)."""
    customer = customer_by_public_id(public_id)
    if customer is None or request.method != "POST":
        raise Http404("No such customer.")
    action = request.POST.get("action", "")
    note = request.POST.get("note", "")
    try:
        if action == "export":
            return export_response(customer, Actor.for_user(signed_in_user(request)))
        if action == "schedule":
            if not note.strip():
                raise InvalidInput("Say how the customer asked (the letter, the ticket).", field="note")
            scheduled = erasure_request(
                customer=customer,
                actor=Actor.for_user(signed_in_user(request)),
                requested_by=f"{request.user} for the customer",
                note=note,
                balance_acknowledged=bool(request.POST.get("acknowledge_balance")),
            )
            messages.success(request, f"Account closed; personal data erased after {scheduled.erase_after:%Y-%m-%d}.")
        elif action == "cancel":
            pending = erasure_scheduled(customer)
            if pending is None:
                raise Http404("No deletion is scheduled.")
            erasure_cancel(request=pending, staff=signed_in_user(request), note=note)
            messages.success(request, "Deletion cancelled; the account is back as it was.")
        else:
            raise Http404("Unknown action.")
    except DomainError as error:
        messages.error(request, error.detail)
    return redirect("backoffice:customer_detail", public_id=customer.public_id)
