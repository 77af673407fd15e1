"""Back office: account deletions (TOS-PRIVACY-1). Staff see each request with what stops it (a legal
hold, a notice still in the outbox), schedule one for a customer who asked in writing, cancel one,
and download a customer's data for a request that came by mail; every step is audited."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.queries import customer_by_public_id, signed_in_user
from megalayer.audit.actions import Actor
from megalayer.backoffice.access import staff_required
from megalayer.core.errors import DomainError, InvalidInput
from megalayer.privacy.actions import erasure_cancel, erasure_request
from megalayer.privacy.actions.policy import privacy_policy_publish
from megalayer.privacy.models import ErasureRequest
from megalayer.privacy.queries import erasure_scheduled, erasures_for_staff, policy_versions_for_staff
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


class PolicyPublishForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 16}), label="Full text")
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="What changed (sent to customers)")
    update_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    effective_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC")


@staff_required("accounts.manage_terms")
def privacy_policy(request: HttpRequest) -> HttpResponse:
    """The Privacy Policy's versions with how many accepted each, and the form to publish the next one
    (TOS-PRIVACY-1); published like the Terms: never edited, customers told of a change."""
    latest = policy_versions_for_staff().first()
    form = PolicyPublishForm(request.POST or None, initial={"body": latest.body} if latest else {})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        staff = signed_in_user(request)
        try:
            version = privacy_policy_publish(
                body=data["body"],
                summary=data["summary"],
                update_date=data["update_date"],
                effective_at=data["effective_at"],
                staff=staff,
                actor=Actor.for_user(staff),
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, f"Privacy Policy version {version.number} published.")
            return redirect("backoffice:privacy_policy")
    context = {"versions": policy_versions_for_staff(), "form": form}
    return render(request, "backoffice/privacy_policy.html", context)
