"""Back office: invoices, payments, refunds, tax rates, bank transfers, a customer's ledger."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.models import Approval
from megalayer.accounts.queries import customer_by_public_id, signed_in_user
from megalayer.backoffice.access import staff_required
from megalayer.billing.actions import manual_payment_record, tax_rate_save
from megalayer.billing.approvals import refund_request
from megalayer.billing.choices import InvoiceStatus, RefundDestination, RefundReason
from megalayer.billing.pdf import invoice_html
from megalayer.billing.queries import (
    invoice_by_public_id,
    invoices_search,
    payments_for_staff,
    refunds_of,
    tax_rates_all,
)
from megalayer.core import numbers
from megalayer.core.errors import DomainError
from megalayer.core.framing import framed_by_own_pages
from megalayer.core.money import Money
from megalayer.ledger.queries import customer_balance, customer_transactions


class RefundForm(forms.Form):
    amount = numbers.DecimalField(min_value=Decimal("0.01"), decimal_places=4)
    reason = forms.ChoiceField(choices=RefundReason.choices)
    destination = forms.ChoiceField(choices=RefundDestination.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="Shown to the customer.")
    key = forms.CharField(widget=forms.HiddenInput)


class TaxRateForm(forms.Form):
    country = forms.CharField(max_length=2)
    name = forms.CharField(max_length=50, initial="VAT")
    rate = numbers.DecimalField(min_value=Decimal(0), max_value=Decimal(100), decimal_places=2)
    eu_member = forms.BooleanField(required=False, label="EU member state (reverse charge for businesses)")


class TransferForm(forms.Form):
    customer = forms.CharField(max_length=24, help_text="cus_… id")
    amount = numbers.DecimalField(min_value=Decimal("0.01"), decimal_places=2)
    bank_reference = forms.CharField(max_length=100)


def _form_error(form: forms.Form, error: DomainError) -> None:
    field = (error.field or "").split(".")[0]
    form.add_error(field if field in form.fields else None, error.detail)


@staff_required("accounts.view_billing")
def invoices(request: HttpRequest) -> HttpResponse:
    query, status = request.GET.get("q", ""), request.GET.get("status", "")
    page = Paginator(invoices_search(query, status), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/invoices.html",
        {
            "page": page,
            "q": query,
            "status": status,
            "statuses": InvoiceStatus.choices,
            "extra_query": f"status={status}&" if status else "",
        },
    )


@staff_required("accounts.view_billing", post="accounts.manage_billing")
def invoice_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = invoice_by_public_id(public_id)
    if invoice is None:
        raise Http404("No such invoice.")
    form = RefundForm(request.POST or None, initial={"key": uuid.uuid4().hex, "destination": "balance"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            done = refund_request(
                invoice=invoice,
                amount=Money(data["amount"], invoice.currency),
                reason=data["reason"],
                note=data["note"],
                destination=data["destination"],
                staff=signed_in_user(request),
                idempotency_key=f"backoffice:{data['key']}",
            )
        except DomainError as error:
            _form_error(form, error)
        else:
            if isinstance(done, Approval):
                messages.success(
                    request, f"Above the limit: refund asked for ({done.public_id}); a second staff member approves it."
                )
            else:
                messages.success(request, "Refund issued; the customer was notified.")
            return redirect("backoffice:invoice_detail", public_id=invoice.public_id)
    context = {
        "invoice": invoice,
        "payments": invoice.payments.all(),
        "refunds": refunds_of(invoice),
        "form": form,
    }
    return render(request, "backoffice/invoice_detail.html", context)


@staff_required("accounts.view_billing")
@framed_by_own_pages
def invoice_document(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = invoice_by_public_id(public_id)
    if invoice is None:
        raise Http404("No such invoice.")
    return HttpResponse(invoice_html(invoice, request))


@staff_required("accounts.view_billing", post="accounts.manage_billing")
def payments(request: HttpRequest) -> HttpResponse:
    form = TransferForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = customer_by_public_id(form.cleaned_data["customer"])
        if customer is None:
            form.add_error("customer", "No such customer.")
        else:
            try:
                manual_payment_record(
                    customer=customer,
                    amount=Money(form.cleaned_data["amount"], customer.currency),
                    bank_reference=form.cleaned_data["bank_reference"],
                    staff=signed_in_user(request),
                )
            except DomainError as error:
                _form_error(form, error)
            else:
                messages.success(request, "Bank transfer recorded and credited.")
                return redirect("backoffice:payments")
    rows = payments_for_staff()
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(request, "backoffice/payments.html", {"page": page, "form": form})


@staff_required("accounts.view_billing", post="accounts.manage_billing")
def tax_rates(request: HttpRequest) -> HttpResponse:
    form = TaxRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tax_rate_save(staff=signed_in_user(request), **form.cleaned_data)
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Tax rate saved; it applies to invoices issued from now on.")
            return redirect("backoffice:tax_rates")
    return render(request, "backoffice/tax_rates.html", {"rates": tax_rates_all(), "form": form})


@staff_required("accounts.view_billing")
def customer_ledger(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = customer_by_public_id(public_id)
    if customer is None:
        raise Http404("No such customer.")
    page = Paginator(customer_transactions(customer), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/customer_ledger.html",
        {"customer": customer, "balance": customer_balance(customer, customer.currency), "page": page},
    )
