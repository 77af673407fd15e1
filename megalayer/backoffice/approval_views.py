"""Back office: requests that wait for a second staff member (four eyes, issue 14 item 6)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.actions.approvals import approval_decide
from megalayer.accounts.queries import approval_by_public_id, approvals_for_staff, signed_in_user
from megalayer.accounts.roles import ANY_STAFF
from megalayer.backoffice.access import staff_required
from megalayer.core.errors import DomainError


@staff_required(ANY_STAFF)  # deciding needs the permission of the request's kind (approval_decide checks it)
def approvals(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        approval = approval_by_public_id(request.POST.get("approval", ""))
        if approval is None:
            raise Http404("No such request.")
        approve = request.POST.get("decision") == "approve"
        try:
            approval_decide(
                approval=approval, staff=signed_in_user(request), approve=approve, note=request.POST.get("note", "")
            )
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, f"{approval.public_id} {'approved and carried out' if approve else 'rejected'}.")
        return redirect("backoffice:approvals")
    rows = approvals_for_staff()
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(request, "backoffice/approvals.html", {"page": page, "extra_query": ""})
