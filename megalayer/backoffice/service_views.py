"""Back office: services with history and staff actions, the fraud review queue, products and prices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from megalayer.abuse.actions import service_enforce
from megalayer.abuse.models import AbuseCase
from megalayer.abuse.queries import case_by_public_id
from megalayer.accounts.queries import signed_in_user
from megalayer.backoffice.access import staff_required
from megalayer.backoffice.charts import bar_chart
from megalayer.billing.queries import revenue_by_month
from megalayer.catalog.actions import coupon_create, price_version_add, product_images_set
from megalayer.catalog.models import BillingCycle
from megalayer.catalog.queries import all_images, coupons_for_staff, prices_of, product_by_code, products_for_staff
from megalayer.core import clock, numbers
from megalayer.core.errors import DomainError
from megalayer.orders.actions import order_approve, order_reject
from megalayer.orders.queries import order_by_public_id, orders_in_review
from megalayer.provisioning.actions.console import console_open
from megalayer.provisioning.queries import console_csp, console_websocket_url, operations_of, server_view
from megalayer.services.actions import service_deny_renewal, services_migrate_price
from megalayer.services.choices import CancelStatus, Reason, Status
from megalayer.services.queries import (
    cancellations_by_status,
    cancellations_search,
    next_step,
    service_by_public_id,
    services_by_status,
    services_paid_until_between,
    services_search,
)
from megalayer.terms.queries import policy_at


def dashboard_charts() -> list[object]:
    now = clock.now()
    by_status = services_by_status()
    status_chart = bar_chart("Services by status", [(s.label, by_status.get(s.value, 0)) for s in Status])
    since = (now - dt.timedelta(days=365)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    revenue_chart = bar_chart(
        "Revenue by month (paid, excl. tax)",
        [(month.strftime("%b"), total) for month, total in revenue_by_month(since)],
    )
    policy = policy_at(now)
    days = [now + dt.timedelta(days=n) for n in range(0, 30, 5)]
    renewals, deletions = [], []
    for start in days:
        end = start + dt.timedelta(days=5)
        label = start.strftime("%d %b")
        renewals.append((label, services_paid_until_between(start, end, (Status.ACTIVE,))))
        deletion_from = start - dt.timedelta(days=policy.expiry.delete_after_days)
        deletion_to = end - dt.timedelta(days=policy.expiry.delete_after_days)
        due = services_paid_until_between(deletion_from, deletion_to, (Status.ACTIVE, Status.SUSPENDED))
        deletions.append((label, due))
    return [
        status_chart,
        revenue_chart,
        bar_chart("Renewals due, next 30 days", renewals),
        bar_chart("Deletions due if unpaid, next 30 days", deletions),
    ]


@staff_required("accounts.view_customers")
def services(request: HttpRequest) -> HttpResponse:
    query, status = request.GET.get("q", "").strip(), request.GET.get("status", "")
    rows = services_search(query, status)
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/services.html",
        {
            "page": page,
            "q": query,
            "status": status,
            "statuses": Status.choices,
            "extra_query": f"status={status}&" if status else "",
        },
    )


@staff_required("accounts.view_customers")
def cancellations(request: HttpRequest) -> HttpResponse:
    """Customers' cancellation requests with their reasons (issue 20): what churns and why."""
    query, status = request.GET.get("q", "").strip(), request.GET.get("status", "")
    if status not in CancelStatus.values:
        status = ""
    page = Paginator(cancellations_search(query, status), 25).get_page(request.GET.get("page"))
    counts = cancellations_by_status()
    return render(
        request,
        "backoffice/cancellations.html",
        {
            "page": page,
            "q": query,
            "status": status,
            "statuses": [(value, label, counts.get(value, 0)) for value, label in CancelStatus.choices],
            "extra_query": f"status={status}&" if status else "",
        },
    )


class EnforcementForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("suspend", "Suspend"),
            ("unsuspend", "Unsuspend"),
            ("terminate", "Terminate"),
            ("deny_renewal", "Deny renewal"),
        ]
    )
    reason = forms.ChoiceField(choices=[(r.value, r.label) for r in Reason if r.value], initial=Reason.STAFF)
    requirement = forms.ChoiceField(
        choices=[
            ("TOS-ABUSE-2", "TOS-ABUSE-2 abuse"),
            ("TOS-VIOLATION-1", "TOS-VIOLATION-1 violation"),
            ("TOS-LEGAL-1", "TOS-LEGAL-1 legal order"),
            ("TOS-REFUSE-1", "TOS-REFUSE-1 refusal"),
            ("TOS-EXPIRE-1", "TOS-EXPIRE-1 payment"),
        ]
    )
    case = forms.CharField(
        required=False, max_length=24, help_text="The abuse case (abc_…): required for abuse or a violation."
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="Recorded in the audit log.")

    def clean_case(self) -> AbuseCase | None:
        text = self.cleaned_data["case"].strip()
        if not text:
            return None
        case = case_by_public_id(text)
        if case is None:
            raise forms.ValidationError("No such case.")
        return case


@staff_required("accounts.view_customers", post="accounts.manage_services")
def service_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    service = service_by_public_id(public_id)
    if service is None:
        raise Http404("No such service.")
    form = EnforcementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == "deny_renewal":
                service_deny_renewal(service=service, staff=signed_in_user(request), note=data["note"])
            else:
                service_enforce(
                    service=service,
                    measure=data["action"],
                    reason=data["reason"],
                    staff=signed_in_user(request),
                    requirement=data["requirement"],
                    note=data["note"],
                    case=data["case"],
                )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, "Done; recorded in the audit log.")
            return redirect("backoffice:service_detail", public_id=service.public_id)
    return render(
        request,
        "backoffice/service_detail.html",
        {
            "service": service,
            "step": next_step(service),
            "events": service.events.all(),
            "form": form,
            "effects": service.effects.order_by("-at")[:50],
            "server": server_view(service),
            "operations": operations_of(service)[:20],
            "addresses": service.ip_assignments.order_by("-assigned_at"),
        },
    )


@staff_required("accounts.manage_machines")
def service_console(request: HttpRequest, public_id: str) -> HttpResponse:
    """Staff open any live server's console (issue 18): a single-use ticket for them, audited as staff."""
    service = service_by_public_id(public_id)
    if service is None:
        raise Http404("No such service.")
    back = reverse("backoffice:service_detail", args=[service.public_id])
    try:
        opened = console_open(service=service, user=signed_in_user(request), by_staff=True)
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect(back)
    url = console_websocket_url(secure=request.is_secure(), host=request.get_host(), token=opened.token)
    context = {"service": service, "websocket_url": url, "by_staff": True, "back_url": back}
    response = render(request, "console.html", context)
    response["Cache-Control"] = "no-store"
    response._csp_config = console_csp(url)  # type: ignore[attr-defined]  # Django's per-response CSP
    return response


@staff_required("accounts.manage_services")
def review_queue(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        order = order_by_public_id(request.POST.get("order", ""))
        if order is None:
            raise Http404("No such order.")
        try:
            if request.POST.get("decision") == "approve":
                order_approve(order=order, staff=signed_in_user(request))
            else:
                order_reject(order=order, staff=signed_in_user(request), note=request.POST.get("note", "") or "Refused")
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, f"Order {order.public_id}: {request.POST.get('decision')}d.")
        return redirect("backoffice:review_queue")
    orders = orders_in_review()
    return render(request, "backoffice/review_queue.html", {"orders": orders})


class PriceForm(forms.Form):
    cycle = forms.ChoiceField(choices=BillingCycle.choices)
    amount = numbers.DecimalField(min_value=Decimal(0), decimal_places=2)
    effective_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC")


class MigrateForm(forms.Form):
    cycle = forms.ChoiceField(choices=BillingCycle.choices)
    amount = numbers.DecimalField(min_value=Decimal(0), decimal_places=2, label="New recurring price")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="Sent to every affected customer.")


@staff_required("accounts.manage_catalog")
def products(request: HttpRequest) -> HttpResponse:
    rows = products_for_staff()
    return render(request, "backoffice/products.html", {"products": rows})


@staff_required("accounts.manage_catalog")
def product_detail(request: HttpRequest, code: str) -> HttpResponse:

    product = product_by_code(code)
    if product is None:
        raise Http404("No such product.")
    if request.method == "POST" and "images_form" in request.POST:
        try:
            listed = product_images_set(
                product=product, codes=request.POST.getlist("images"), staff=signed_in_user(request)
            )
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, f"{product.code} runs {len(listed)} image(s); running servers keep theirs.")
        return redirect("backoffice:product_detail", code=product.code)
    migrating = request.method == "POST" and "migrate" in request.POST
    form = PriceForm(request.POST if request.method == "POST" and not migrating else None)
    migrate_form = MigrateForm(request.POST if migrating else None)
    if migrating and migrate_form.is_valid():
        try:
            moved = services_migrate_price(
                product=product,
                staff=signed_in_user(request),
                cycle=migrate_form.cleaned_data["cycle"],
                new_amount=migrate_form.cleaned_data["amount"],
                note=migrate_form.cleaned_data["note"],
            )
        except DomainError as error:
            migrate_form.add_error(None, error.detail)
        else:
            messages.success(request, f"{moved} running service(s) moved to the new price; their customers were told.")
            return redirect("backoffice:product_detail", code=product.code)
    if request.method == "POST" and not migrating and form.is_valid():
        try:
            price_version_add(product=product, staff=signed_in_user(request), **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(
                request,
                "New price saved: it applies to orders from its effective time; "
                "existing services keep their price (TOS-PRICE-1).",
            )
            return redirect("backoffice:product_detail", code=product.code)
    return render(
        request,
        "backoffice/product_detail.html",
        {
            "product": product,
            "prices": prices_of(product),
            "images": all_images(),
            "listed": set(product.os_images.values_list("code", flat=True)),
            "form": form,
            "migrate_form": migrate_form,
        },
    )


class CouponForm(forms.Form):
    code = forms.CharField(max_length=40)
    kind = forms.ChoiceField(choices=[("percent", "Percent off"), ("fixed", "Fixed amount off (USD)")])
    value = numbers.DecimalField(min_value=Decimal("0.01"), decimal_places=2)
    duration = forms.ChoiceField(choices=[("first_term", "First term only"), ("recurring", "Every renewal")])
    max_redemptions = numbers.IntegerField(min_value=1, required=False)
    max_per_customer = numbers.IntegerField(min_value=1, required=False, initial=1, help_text="Empty: no limit")
    valid_until = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        required=False,
        help_text="UTC; empty for no expiry",
    )


@staff_required("accounts.manage_catalog")
def coupons(request: HttpRequest) -> HttpResponse:

    form = CouponForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            coupon_create(staff=signed_in_user(request), **form.cleaned_data)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, "Coupon created.")
            return redirect("backoffice:coupons")
    return render(request, "backoffice/coupons.html", {"coupons": coupons_for_staff(), "form": form})
