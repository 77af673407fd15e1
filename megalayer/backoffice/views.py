"""The staff back office: customers, Terms, audit log."""

from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.abuse.actions.holds import hold_over_customer
from megalayer.accounts.queries import customer_by_public_id, customer_counts, customers_search, signed_in_user
from megalayer.accounts.roles import ANY_STAFF
from megalayer.affiliates.queries import referral_of, referrals_of
from megalayer.audit.actions import Actor
from megalayer.audit.queries import audit_search, audit_verify, events_about, recent_events
from megalayer.backoffice.access import staff_required
from megalayer.backoffice.forms import TermsPublishForm
from megalayer.backoffice.service_views import dashboard_charts
from megalayer.core import clock
from megalayer.core.errors import DomainError
from megalayer.core.ids import new_public_id
from megalayer.notices.actions import notice_create
from megalayer.notices.choices import REQUIREMENT_OF_KIND, Kind
from megalayer.notices.queries import (
    latest_notice_of_kind,
    latest_notice_times,
    notice_status_counts,
    notices_of_customer,
)
from megalayer.orders.queries import orders_in_review
from megalayer.privacy.actions import erasure_blockers
from megalayer.terms.actions import terms_publish
from megalayer.terms.models import TermsVersion
from megalayer.terms.queries import (
    acceptances_of,
    current_version,
    latest_version,
    terms_diff,
    versions_with_acceptances,
)


@staff_required(ANY_STAFF)
def home(request: HttpRequest) -> HttpResponse:
    customer_count, new_customers = customer_counts(clock.now() - dt.timedelta(days=30))
    context = {
        "customer_count": customer_count,
        "new_customers": new_customers,
        "notice_status": notice_status_counts(),
        "current_terms": current_version(),
        "recent_events": recent_events(10),
        "charts": dashboard_charts(),
        "in_review": orders_in_review().count(),
    }
    return render(request, "backoffice/home.html", context)


@staff_required("accounts.view_customers")
def customers(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    unreachable = bool(request.GET.get("unreachable"))
    rows = customers_search(query)
    if unreachable:  # mail to them bounced (TOS-EMAIL-1)
        rows = rows.filter(owner__email_bounced_at__isnull=False)
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": query,
        "unreachable": unreachable,
        "extra_query": "unreachable=1&" if unreachable else "",
    }
    return render(request, "backoffice/customers.html", context)


@staff_required("accounts.view_customers")
def customer_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = customer_by_public_id(public_id)
    if customer is None:
        raise Http404("No such customer.")
    context = {
        "customer": customer,
        "profile": getattr(customer, "billing_profile", None),
        "acceptances": acceptances_of(customer.owner),
        "notices": notices_of_customer(customer)[:20],
        "events": events_about("customer", customer.public_id).order_by("-id")[:20],
        "erasures": customer.erasure_requests.all()[:5],
        "erasure_blockers": erasure_blockers(customer),
        "erasure_hold": hold_over_customer(customer),
        "referred_by": referral_of(customer),
        "referrals": referrals_of(customer)[:20],
    }
    return render(request, "backoffice/customer_detail.html", context)


@staff_required("accounts.manage_terms")
def terms_list(request: HttpRequest) -> HttpResponse:
    versions = versions_with_acceptances()
    return render(request, "backoffice/terms_list.html", {"versions": versions, "current": current_version()})


@staff_required("accounts.manage_terms")
def terms_publish_view(request: HttpRequest) -> HttpResponse:
    """Two steps: 'Preview' shows the diff against the version in force; 'Publish' publishes."""
    latest = latest_version()
    initial = {"body": latest.body, "policy": json.dumps(latest.policy_data, indent=2)} if latest else {}
    form = TermsPublishForm(request.POST or None, initial=initial)
    diff = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        effective_at = data["effective_at"]
        if "publish" in request.POST:
            try:
                version = terms_publish(
                    body=data["body"],
                    summary=data["summary"],
                    update_date=data["update_date"],
                    effective_at=effective_at,
                    policy=data["policy"],
                    actor=Actor.for_user(signed_in_user(request)),
                    published_by=request.user,
                )
            except DomainError as error:
                field = (error.field or "").split(".")[0]
                form.add_error(field if field in form.fields else None, error.detail)
            else:
                messages.success(
                    request, f"Version {version.number} published; effective {effective_at:%Y-%m-%d %H:%M} UTC."
                )
                return redirect("backoffice:terms")
        preview = TermsVersion(number=(latest.number + 1) if latest else 1, body=data["body"])
        diff = terms_diff(latest, preview)
    return render(request, "backoffice/terms_publish.html", {"form": form, "diff": diff, "latest": latest})


@staff_required("accounts.view_audit")
def audit_log(request: HttpRequest) -> HttpResponse:
    filters = {key: request.GET.get(key, "").strip() for key in ("action", "requirement", "target_id", "actor")}
    events = audit_search(**filters)
    verification = audit_verify() if request.method == "POST" else None
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    extra_query = "".join(f"{key}={value}&" for key, value in filters.items() if value)
    return render(
        request,
        "backoffice/audit.html",
        {"page": page, "filters": filters, "verification": verification, "extra_query": extra_query},
    )


@staff_required("accounts.manage_terms")
def mail_templates(request: HttpRequest) -> HttpResponse:
    """Every notice kind with its latest real message: preview (text and HTML, one shared layout) and a
    test send of that message to the staff member's own address."""
    if request.method == "POST":
        example = latest_notice_of_kind(request.POST.get("kind", ""))
        if example is None:
            raise Http404("No example of that kind yet.")
        notice_create(
            kind=example.kind,
            recipient=request.user.email,  # type: ignore[union-attr]
            dedupe_key=f"test:{new_public_id('t')}",
            subject=f"[test] {example.subject}",
            body_text=example.body_text,
            body_html=example.body_html,
        )
        messages.success(request, f"Test message queued to {request.user.email}.")  # type: ignore[union-attr]
        return redirect(f"{request.path}?kind={example.kind}")
    latest = latest_notice_times()
    kind = request.GET.get("kind", "")
    example = latest_notice_of_kind(kind)
    rows = [(value, label, REQUIREMENT_OF_KIND.get(value, ""), latest.get(value)) for value, label in Kind.choices]
    return render(request, "backoffice/mail_templates.html", {"rows": rows, "kind": kind, "example": example})
