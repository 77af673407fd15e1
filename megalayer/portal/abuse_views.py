"""Client area: the customer's abuse cases, with the complaint (redacted), the deadline and the thread."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.abuse.actions import case_answer
from megalayer.abuse.queries import case_complaints, case_of, cases_of
from megalayer.core import clock
from megalayer.core.errors import DomainError
from megalayer.portal.billing_views import _customer


@login_required
def cases(request: HttpRequest) -> HttpResponse:
    rows = cases_of(_customer(request))
    return render(request, "portal/abuse_cases.html", {"cases": rows, "now": clock.now()})


@login_required
def case_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    case = case_of(_customer(request), public_id)
    if case is None:
        raise Http404("No such case.")
    if request.method == "POST":
        try:
            case_answer(case=case, customer=case.customer, body=request.POST.get("body", ""), author=request.user.email)  # type: ignore[union-attr]
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, "Answer sent to our abuse team.")
        return redirect("portal:abuse_case", public_id=case.public_id)
    context = {"case": case, "complaints": case_complaints(case), "thread": case.messages.all(), "now": clock.now()}
    return render(request, "portal/abuse_case.html", context)
