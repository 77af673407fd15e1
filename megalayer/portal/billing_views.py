"""Client area: balance, top-ups, invoices (TOS-BAL-1, TOS-INVOICE-1).

There is no withdrawal page: the balance can only be spent on our services (TOS-BAL-1).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.models import Customer, User
from megalayer.accounts.queries import customer_of, signed_in_user
from megalayer.audit.actions import Actor
from megalayer.billing.actions import customer_set_auto_apply, invoice_pay_from_balance, payment_start
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.gateways import enabled_gateways, gateway_named
from megalayer.billing.models import Invoice
from megalayer.billing.pdf import invoice_html, invoice_pdf
from megalayer.billing.queries import invoices_of, pending_payments_of
from megalayer.core import numbers
from megalayer.core.errors import DomainError
from megalayer.core.framing import framed_by_own_pages
from megalayer.core.money import Money
from megalayer.ledger.queries import customer_balance, customer_transactions


class TopUpForm(forms.Form):
    amount = numbers.DecimalField(min_value=Decimal("1"), max_value=Decimal("100000"), decimal_places=2)
    gateway = forms.ChoiceField()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["gateway"].choices = [(g.code, g.label) for g in enabled_gateways()]  # type: ignore[attr-defined]


class PayForm(forms.Form):
    amount = numbers.DecimalField(
        min_value=Decimal("0.01"),
        decimal_places=4,
        required=False,
        help_text="Leave empty to pay everything that is due.",
    )
    key = forms.CharField(widget=forms.HiddenInput)


def _customer(request: HttpRequest) -> Customer:
    user = request.user
    assert isinstance(user, User)
    customer = customer_of(user)
    if customer is None:
        raise Http404("Staff logins have no balance.")
    return customer


@login_required
def billing(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    form = TopUpForm(request.POST or None)
    if request.method == "POST" and "auto_apply" in request.POST:
        customer_set_auto_apply(customer=customer, enabled=request.POST["auto_apply"] == "on")
        messages.success(request, "Saved.")
        return redirect("portal:billing")
    if request.method == "POST" and form.is_valid():
        try:
            amount = Money(form.cleaned_data["amount"], customer.currency)
            payment = payment_start(customer=customer, amount=amount, gateway=form.cleaned_data["gateway"])
            checkout = gateway_named(payment.gateway).start(
                payment=payment, return_url=f"{settings.SITE_URL}/account/billing/"
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            if payment.gateway == "sandbox":
                messages.info(
                    request, f"Sandbox top-up {payment.public_id} of {amount} started; it is approved in a few seconds."
                )
            return redirect(checkout.redirect_url)
    page = Paginator(customer_transactions(customer), 20).get_page(request.GET.get("page"))
    context = {
        "customer": customer,
        "balance": customer_balance(customer, customer.currency),
        "form": form,
        "page": page,
        "pending": pending_payments_of(customer),
        "open_invoices": invoices_of(customer).filter(status=InvoiceStatus.ISSUED)[:5],
        "sandbox": any(gateway.is_sandbox for gateway in enabled_gateways()),
    }
    return render(request, "portal/billing.html", context)


@login_required
def invoices(request: HttpRequest) -> HttpResponse:
    page = Paginator(invoices_of(_customer(request)), 20).get_page(request.GET.get("page"))
    return render(request, "portal/invoices.html", {"page": page})


def _invoice(request: HttpRequest, public_id: str) -> Invoice:
    invoice = invoices_of(_customer(request)).filter(public_id=public_id).first()
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


@login_required
def invoice_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = _invoice(request, public_id)
    form = PayForm(request.POST or None, initial={"key": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        amount = form.cleaned_data["amount"]
        try:
            invoice_pay_from_balance(
                invoice=invoice,
                amount=Money(amount, invoice.currency) if amount else None,
                idempotency_key=f"portal:{form.cleaned_data['key']}",
                actor=Actor.for_user(signed_in_user(request)),
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, "Paid from your balance.")
            return redirect("portal:invoice_detail", public_id=invoice.public_id)
    context = {
        "invoice": invoice,
        "form": form,
        "balance": customer_balance(invoice.customer, invoice.currency),
    }
    return render(request, "portal/invoice_detail.html", context)


@login_required
@framed_by_own_pages
def invoice_document(request: HttpRequest, public_id: str) -> HttpResponse:
    """The printable invoice, framed by the invoice page (the same HTML as the PDF)."""
    return HttpResponse(invoice_html(_invoice(request, public_id), request))


@login_required
def invoice_pdf_view(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = _invoice(request, public_id)
    try:
        pdf = invoice_pdf(invoice)
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("portal:invoice_detail", public_id=invoice.public_id)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.display_number}.pdf"'
    return response
