"""The staff back office: customers, Terms, audit log."""

from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.abuse.actions.holds import hold_over_customer
from megalayer.accounts.models import Customer
from megalayer.accounts.queries import customers_search, signed_in_user
from megalayer.accounts.roles import ANY_STAFF
from megalayer.affiliates.models import Referral
from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.audit.queries import audit_search, audit_verify
from megalayer.backoffice.access import staff_required
from megalayer.backoffice.forms import TermsPublishForm
from megalayer.backoffice.service_views import dashboard_charts
from megalayer.core import clock
from megalayer.core.errors import DomainError
from megalayer.core.ids import new_public_id
from megalayer.notices.actions import notice_create
from megalayer.notices.choices import REQUIREMENT_OF_KIND, Kind
from megalayer.notices.models import Notice
from megalayer.orders.models import Order
from megalayer.privacy.actions import erasure_blockers
from megalayer.terms.actions import terms_publish
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.queries import current_version, terms_diff


@staff_required(ANY_STAFF)
def home(request: HttpRequest) -> HttpResponse:
    since = clock.now() - dt.timedelta(days=30)
    context = {
        "customer_count": Customer.objects.count(),
        "new_customers": Customer.objects.filter(created_at__gte=since).count(),
        "notice_status": dict(Notice.objects.values_list("status").annotate(n=Count("id"))),
        "current_terms": current_version(),
        "recent_events": AuditEvent.objects.all()[:10],
        "charts": dashboard_charts(),
        "in_review": Order.objects.filter(status=Order.Status.IN_REVIEW).count(),
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
    customer = Customer.objects.select_related("owner").filter(public_id=public_id).first()
    if customer is None:
        raise Http404("No such customer.")
    context = {
        "customer": customer,
        "profile": getattr(customer, "billing_profile", None),
        "acceptances": TermsAcceptance.objects.filter(user=customer.owner).select_related("version"),
        "notices": Notice.objects.filter(customer=customer)[:20],
        "events": AuditEvent.objects.filter(target_type="customer", target_id=customer.public_id)[:20],
        "erasures": customer.erasure_requests.all()[:5],
        "erasure_blockers": erasure_blockers(customer),
        "erasure_hold": hold_over_customer(customer),
        "referred_by": Referral.objects.filter(referred=customer).select_related("referrer__owner").first(),
        "referrals": Referral.objects.filter(referrer=customer).select_related("referred__owner")[:20],
    }
    return render(request, "backoffice/customer_detail.html", context)


@staff_required("accounts.manage_terms")
def terms_list(request: HttpRequest) -> HttpResponse:
    versions = TermsVersion.objects.annotate(accepted=Count("acceptances"))
    return render(request, "backoffice/terms_list.html", {"versions": versions, "current": current_version()})


@staff_required("accounts.manage_terms")
def terms_publish_view(request: HttpRequest) -> HttpResponse:
    """Two steps: 'Preview' shows the diff against the version in force; 'Publish' publishes."""
    latest = TermsVersion.objects.order_by("-number").first()
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
    from django.db.models import Max

    if request.method == "POST":
        example = Notice.objects.filter(kind=request.POST.get("kind", "")).order_by("-created_at").first()
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
    latest = dict(Notice.objects.values_list("kind").annotate(at=Max("created_at")))
    kind = request.GET.get("kind", "")
    example = Notice.objects.filter(kind=kind).order_by("-created_at").first() if kind else None
    rows = [(value, label, REQUIREMENT_OF_KIND.get(value, ""), latest.get(value)) for value, label in Kind.choices]
    return render(request, "backoffice/mail_templates.html", {"rows": rows, "kind": kind, "example": example})
