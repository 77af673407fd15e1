"""Back office: legal orders, exports (staff with the legal permission only: others get a 404) and holds."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.abuse.actions.holds import legal_hold_place, legal_hold_release_request, legal_hold_renew
from megalayer.abuse.actions.legal import (
    document_response,
    legal_export,
    legal_order_attach,
    legal_order_execute,
    legal_order_record,
    may_see_legal,
)
from megalayer.abuse.models import LegalOrder
from megalayer.abuse.queries import (
    legal_export_by_public_id,
    legal_hold_by_public_id,
    legal_holds_for_staff,
    legal_order_by_public_id,
    legal_orders,
)
from megalayer.accounts.queries import customer_by_public_id, signed_in_user
from megalayer.backoffice.access import staff_required
from megalayer.core import clock
from megalayer.core.errors import DomainError, InvalidInput
from megalayer.services.queries import service_by_public_id
from megalayer.terms.queries import policy_at


def _gate(request: HttpRequest) -> None:
    if not may_see_legal(signed_in_user(request)):
        raise Http404("Not found.")


class OrderForm(forms.Form):
    kind = forms.ChoiceField(choices=LegalOrder.Kind.choices)
    issuer = forms.CharField(max_length=200)
    reference = forms.CharField(max_length=200)
    orders = forms.MultipleChoiceField(choices=LegalOrder.Orders.choices, widget=forms.CheckboxSelectMultiple)
    service = forms.CharField(required=False, help_text="srv_ id")
    address = forms.GenericIPAddressField(required=False)
    document = forms.FileField(required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


@staff_required("abuse.legal")
def orders(request: HttpRequest) -> HttpResponse:
    _gate(request)
    form = OrderForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        service = service_by_public_id(data["service"]) if data["service"] else None
        if data["service"] and service is None:
            form.add_error("service", "No such service.")
        else:
            upload = data["document"]
            try:
                order = legal_order_record(
                    staff=signed_in_user(request),
                    kind=data["kind"],
                    issuer=data["issuer"],
                    reference=data["reference"],
                    orders=data["orders"],
                    service=service,
                    address=data["address"] or "",
                    document=(upload.name, upload.read()) if upload else None,
                    notes=data["notes"],
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.detail)
            else:
                messages.success(request, f"Order {order.public_id} recorded.")
                return redirect("backoffice:legal_order", public_id=order.public_id)
    return render(request, "backoffice/legal_orders.html", {"orders": legal_orders(), "form": form})


@staff_required("abuse.legal")
def order_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    _gate(request)
    order = legal_order_by_public_id(public_id)
    if order is None:
        raise Http404("Not found.")
    if request.method == "POST":
        try:
            if request.POST.get("action") == "document":
                upload = request.FILES.get("document")
                if upload is None:
                    raise InvalidInput("Choose the document.", field="document")
                legal_order_attach(
                    order=order, staff=signed_in_user(request), name=upload.name or "", content=upload.read()
                )
                messages.success(request, "Document attached.")
            elif request.POST.get("action") == "export":
                start = dt.datetime.fromisoformat(request.POST.get("start", "")).replace(tzinfo=dt.UTC)
                end = dt.datetime.fromisoformat(request.POST.get("end", "")).replace(tzinfo=dt.UTC)
                export = legal_export(
                    order=order,
                    staff=signed_in_user(request),
                    reason=request.POST.get("reason", ""),
                    start=start,
                    end=end,
                )
                messages.success(request, f"Export {export.public_id} made (SHA-256 {export.sha256[:16]}…).")
            else:
                done = legal_order_execute(
                    order=order, staff=signed_in_user(request), action=request.POST.get("action", "")
                )
                messages.success(request, f"Carried out: {done}. The order records it.")
        except ValueError:
            messages.error(request, "Give the period as dates.")
        except DomainError as error:
            messages.error(request, error.detail)
        return redirect("backoffice:legal_order", public_id=order.public_id)
    ordered = [(action, order.measures.get(action)) for action in order.orders]
    context = {"order": order, "exports": order.exports.all(), "ordered": ordered}
    return render(request, "backoffice/legal_order.html", context)


@staff_required("abuse.legal")
def order_document(request: HttpRequest, public_id: str) -> FileResponse:
    _gate(request)
    order = legal_order_by_public_id(public_id)
    if order is None or not order.document:
        raise Http404("Not found.")
    return document_response(order)


@staff_required("abuse.legal")
def hold_records(request: HttpRequest, public_id: str) -> FileResponse:
    """The records snapshot a hold took: personal data of possibly several customers, so legal staff only."""
    _gate(request)
    hold = legal_hold_by_public_id(public_id)
    if hold is None or not hold.records:
        raise Http404("Not found.")
    return FileResponse(hold.records.open("rb"), as_attachment=True, filename=f"{hold.public_id}-records.zip")


@staff_required("abuse.legal")
def export_download(request: HttpRequest, public_id: str) -> FileResponse:
    _gate(request)
    export = legal_export_by_public_id(public_id)
    if export is None:
        raise Http404("Not found.")
    return FileResponse(export.file.open("rb"), as_attachment=True, filename=f"{export.public_id}.zip")


def _date_end(value: str) -> dt.datetime | None:
    """A date from the form: the hold runs to the end of that day (UTC)."""
    value = value.strip()
    if not value:
        return None
    return dt.datetime.combine(dt.date.fromisoformat(value), dt.time.max, tzinfo=dt.UTC).replace(microsecond=0)


@staff_required("accounts.manage_holds")
def holds(request: HttpRequest) -> HttpResponse:

    action = request.POST.get("action", "release") if request.method == "POST" else ""
    try:
        if action == "place":
            service_id = request.POST.get("service", "").strip()
            customer_id = request.POST.get("customer", "").strip()
            service = service_by_public_id(service_id) if service_id else None
            customer = customer_by_public_id(customer_id) if customer_id else None
            if service_id and service is None:
                raise InvalidInput("No such service.", field="service")
            if customer_id and customer is None:
                raise InvalidInput("No such customer.", field="customer")
            placed = legal_hold_place(
                staff=signed_in_user(request),
                reason=request.POST.get("reason", ""),
                customer=customer,
                service=service,
                address=request.POST.get("address", "").strip(),
                order_reference=request.POST.get("order_reference", ""),
                ends_at=_date_end(request.POST.get("ends_at", "")),
                open_ended=bool(request.POST.get("open_ended")),
            )
            messages.success(request, f"Hold {placed.public_id} placed; evidence: {placed.evidence}.")
        elif action in ("release", "renew"):
            hold = legal_hold_by_public_id(request.POST.get("hold", ""))
            if hold is None:
                raise Http404("No such hold.")
            note = request.POST.get("note", "")
            if action == "renew":
                renewed = legal_hold_renew(
                    hold=hold,
                    staff=signed_in_user(request),
                    note=note,
                    ends_at=_date_end(request.POST.get("ends_at", "")),
                )
                until = f"{renewed.ends_at:%Y-%m-%d}" if renewed.ends_at else "released"
                messages.success(request, f"Hold {hold.public_id} renewed until {until}.")
            else:
                asked = legal_hold_release_request(hold=hold, staff=signed_in_user(request), note=note)
                messages.success(
                    request,
                    f"Release asked for ({asked.public_id}): a second staff member approves it under Approvals.",
                )
    except ValueError:
        messages.error(request, "Give the end as a date.")
    except DomainError as error:
        messages.error(request, error.detail)
    if request.method == "POST":
        return redirect("backoffice:legal_holds")

    rows = legal_holds_for_staff()
    days = policy_at(clock.now()).legal_hold.default_days
    context = {"holds": rows, "default_days": days, "default_end": (clock.now() + dt.timedelta(days=days)).date()}
    return render(request, "backoffice/legal_holds.html", context)
