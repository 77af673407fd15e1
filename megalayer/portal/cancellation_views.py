"""The client area's cancellation page (issue 20): cancel a service at the end of its term or now, and
withdraw a pending end-of-term cancellation."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.queries import signed_in_user
from megalayer.audit.actions import Actor
from megalayer.core.errors import DomainError
from megalayer.portal.billing_views import _customer
from megalayer.services.actions.cancellations import (
    COMMENT_LIMIT,
    NOW_WARNING,
    cancellation_pending,
    cancellation_request,
    cancellation_withdraw,
)
from megalayer.services.choices import CancelReason, CancelWhen, Status
from megalayer.services.queries import services_of


class CancellationForm(forms.Form):
    when = forms.ChoiceField(choices=CancelWhen.choices, widget=forms.RadioSelect, initial=CancelWhen.END_OF_TERM)
    reason = forms.ChoiceField(choices=[("", "Choose…"), *CancelReason.choices], label="Why are you leaving?")
    comment = forms.CharField(
        required=False, max_length=COMMENT_LIMIT, widget=forms.Textarea(attrs={"rows": 3}), label="Anything else?"
    )
    confirm = forms.BooleanField(
        required=False, label="I understand: cancelling now deletes the server and its data, and refunds nothing."
    )


@login_required
def service_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    service = services_of(_customer(request)).filter(public_id=public_id).first()
    if service is None:
        raise Http404("No such service.")
    actor = Actor.for_user(signed_in_user(request))
    form = CancellationForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") == "withdraw":
        try:
            cancellation_withdraw(service=service, actor=actor)
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, "Cancellation withdrawn: the service renews as before.")
        return redirect("portal:service_detail", public_id=service.public_id)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            cancellation = cancellation_request(
                service=service,
                actor=actor,
                when=data["when"],
                reason=data["reason"],
                comment=data["comment"],
                confirm=data["confirm"],
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            if cancellation.when == CancelWhen.NOW:
                messages.success(request, "Cancelled: the server is being deleted.")
            else:
                ends = cancellation.effective_at
                messages.success(request, f"Cancelled: the service ends on {ends.day} {ends:%B %Y}, {ends:%H:%M} UTC.")
            return redirect("portal:service_detail", public_id=service.public_id)
    context = {
        "service": service,
        "form": form,
        "pending": cancellation_pending(service),
        "cancellable": service.status in (Status.ACTIVE, Status.SUSPENDED),
        "now_warning": NOW_WARNING,
    }
    return render(request, "portal/service_cancel.html", context)
