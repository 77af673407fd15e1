"""Back office: the abuse desk (TOS-ABUSE-1, TOS-ABUSE-2): inbox of raw reports with their parse result
and triage, cases with timeline, deadline and actions."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.abuse.actions import (
    case_act,
    event_confirm,
    repeat_offence_decide,
    report_receive,
    trusted_reporter_add,
    trusted_reporter_remove,
)
from megalayer.abuse.choices import Source
from megalayer.abuse.queries import (
    case_by_public_id,
    cases_for_staff,
    event_of_report,
    repeat_offence_by_public_id,
    repeat_offences_for_staff,
    report_by_public_id,
    reports_for_staff,
    trusted_reporter,
    trusted_reporters,
)
from megalayer.accounts.queries import signed_in_user
from megalayer.audit.queries import events_about
from megalayer.backoffice.access import staff_required
from megalayer.core import clock
from megalayer.core.errors import DomainError


@staff_required("accounts.manage_abuse")
def inbox(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        raw = request.POST.get("raw", "").encode()
        uploaded = request.FILES.get("file")
        if uploaded is not None:
            raw = uploaded.read()
        try:
            report, created = report_receive(raw=raw, source=Source.STAFF)
        except DomainError as error:
            messages.error(request, error.detail)
            return redirect("backoffice:abuse_inbox")
        messages.success(request, "Report stored and parsed." if created else "This report was already received.")
        return redirect("backoffice:abuse_report", public_id=report.public_id)
    triage = request.GET.get("triage")
    rows = reports_for_staff(triage=bool(triage))
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/abuse_inbox.html",
        {"page": page, "triage": triage, "extra_query": "triage=1&" if triage else ""},
    )


@staff_required("accounts.manage_abuse")
def report_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    report = report_by_public_id(public_id)
    if report is None:
        raise Http404("No such report.")
    if request.method == "POST":
        event = event_of_report(report, request.POST.get("event"))
        if event is None:
            raise Http404("No such event.")
        event_confirm(event=event, staff=signed_in_user(request))
        messages.success(request, f"{event.address} confirmed.")
        return redirect("backoffice:abuse_report", public_id=report.public_id)
    events = report.events.select_related("assignment__customer__owner", "assignment__service", "case")
    raw = bytes(report.raw).decode("utf-8", errors="replace")
    return render(request, "backoffice/abuse_report.html", {"report": report, "events": events, "raw": raw})


@staff_required("accounts.manage_abuse")
def cases(request: HttpRequest) -> HttpResponse:
    """The cases, and above them the repeat offences the policy proposes (TOS-ABUSE-2) for staff to decide."""
    if request.method == "POST":
        offence = repeat_offence_by_public_id(request.POST.get("offence", ""))
        if offence is None:
            raise Http404("No such repeat offence.")
        try:
            decided = repeat_offence_decide(
                offence=offence,
                staff=signed_in_user(request),
                suspend=request.POST.get("decision") == "suspend",
                note=request.POST.get("note", ""),
            )
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, f"{decided.public_id}: {decided.get_outcome_display().lower()}.")
        return redirect("backoffice:abuse_cases")
    status = request.GET.get("status", "")
    rows = cases_for_staff(status)
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "now": clock.now(),
        "extra_query": f"status={status}&" if status else "",
        "proposals": repeat_offences_for_staff("proposed")[:50],
    }
    return render(request, "backoffice/abuse_cases.html", context)


@staff_required("accounts.manage_abuse")
def case_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    case = case_by_public_id(public_id)
    if case is None:
        raise Http404("No such case.")
    if request.method == "POST":
        try:
            case_act(
                case=case,
                staff=signed_in_user(request),
                action=request.POST.get("action", ""),
                address=request.POST.get("address", ""),
                note=request.POST.get("note", ""),
            )
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, "Done; recorded in the audit log with the case.")
        return redirect("backoffice:abuse_case", public_id=case.public_id)

    events = case.events.select_related("report").order_by("occurred_at")
    context = {
        "case": case,
        "events": events,
        "addresses": sorted(set(events.values_list("address", flat=True))),
        "thread": case.messages.all(),
        "audit": events_about("abuse_case", case.public_id),
        "now": clock.now(),
    }
    return render(request, "backoffice/abuse_case.html", context)


@staff_required("accounts.manage_abuse")
def reporters(request: HttpRequest) -> HttpResponse:
    """Trusted reporters: whose DKIM-verified ARF / X-ARF reports open cases and may lead to automatic measures."""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "remove":
                reporter = trusted_reporter(request.POST.get("reporter"))
                if reporter is None:
                    raise Http404("No such reporter.")
                trusted_reporter_remove(
                    reporter=reporter, staff=signed_in_user(request), note=request.POST.get("note", "")
                )
                messages.success(request, f"{reporter.domain} is no longer trusted.")
            else:
                added = trusted_reporter_add(
                    domain=request.POST.get("domain", ""),
                    name=request.POST.get("name", ""),
                    note=request.POST.get("note", ""),
                    staff=signed_in_user(request),
                )
                messages.success(request, f"{added.domain} is trusted.")
        except DomainError as error:
            messages.error(request, error.detail)
        return redirect("backoffice:abuse_reporters")
    context = {"reporters": trusted_reporters(), "authserv_id": settings.MEGALAYER_MAIL_AUTHSERV_ID}
    return render(request, "backoffice/abuse_reporters.html", context)
