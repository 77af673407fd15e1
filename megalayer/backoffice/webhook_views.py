"""Back office, outgoing webhooks (issue 20): endpoints (secret shown once), deliveries with their attempts,
pause/resume and replay."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.queries import signed_in_user
from megalayer.backoffice.access import staff_required
from megalayer.core.errors import DomainError
from megalayer.core.events import EVENT_TYPES
from megalayer.webhooks.actions import delivery_replay, endpoint_create, endpoint_set_active
from megalayer.webhooks.choices import DeliveryStatus
from megalayer.webhooks.queries import (
    deliveries_of,
    delivery_of,
    delivery_status_counts,
    endpoint_by_public_id,
    endpoints_for_staff,
)

PERMISSION = "accounts.manage_webhooks"


class EndpointForm(forms.Form):
    url = forms.CharField(max_length=500, label="URL", widget=forms.URLInput(attrs={"placeholder": "https://"}))
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {what}") for name, what in EVENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple,
        label="Events",
    )


@staff_required(PERMISSION)
def webhooks(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    secret = ""
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = endpoint_create(
                staff=signed_in_user(request),
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, f"Endpoint {endpoint.public_id} added.")
            form = EndpointForm()
    return render(
        request,
        "backoffice/webhooks.html",
        {"form": form, "endpoints": endpoints_for_staff(), "secret": secret},
    )


@staff_required(PERMISSION)
def webhook_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    endpoint = endpoint_by_public_id(public_id)
    if endpoint is None:
        raise Http404("No such endpoint.")
    if request.method == "POST":
        staff = signed_in_user(request)
        action = request.POST.get("action", "")
        if action in ("pause", "resume"):
            endpoint_set_active(endpoint=endpoint, active=action == "resume", staff=staff)
            messages.success(request, "Resumed." if action == "resume" else "Paused: new events are not queued.")
        elif action == "replay":
            delivery = delivery_of(endpoint, request.POST.get("delivery", ""))
            if delivery is None:
                raise Http404("No such delivery.")
            try:
                delivery_replay(delivery=delivery, staff=staff)
            except DomainError as error:
                messages.error(request, error.detail)
            else:
                messages.success(request, f"{delivery.event_id} is sent again (same event id).")
        return redirect("backoffice:webhook_detail", public_id=endpoint.public_id)
    status = request.GET.get("status", "")
    if status not in DeliveryStatus.values:
        status = ""
    query = request.GET.get("q", "").strip()
    page = Paginator(deliveries_of(endpoint, status, query), 25).get_page(request.GET.get("page"))
    counts = delivery_status_counts(endpoint)
    return render(
        request,
        "backoffice/webhook_detail.html",
        {
            "endpoint": endpoint,
            "page": page,
            "q": query,
            "status": status,
            "statuses": [(value, label, counts.get(value, 0)) for value, label in DeliveryStatus.choices],
            "extra_query": f"status={status}&" if status else "",
        },
    )
