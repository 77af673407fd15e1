"""Reads of billing data, scoped to a customer where a customer asks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from megalayer.accounts.models import Customer
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import Invoice, Payment, Refund, TaxRate


def invoices_of(customer: Customer) -> QuerySet[Invoice]:
    """What the customer can see: every invoice except drafts."""
    return Invoice.objects.filter(customer=customer).exclude(status=InvoiceStatus.DRAFT).order_by("-issued_at", "-id")


def invoices_search(query: str, status: str = "") -> QuerySet[Invoice]:
    invoices = Invoice.objects.select_related("customer__owner").order_by("-created_at", "-id")
    if status:
        invoices = invoices.filter(status=status)
    query = query.strip()
    if not query:
        return invoices
    number = query.upper().removeprefix("INV-").lstrip("0")
    condition = Q(public_id=query) | Q(customer__owner__email__icontains=query) | Q(customer__public_id=query)
    if number.isdigit():
        condition |= Q(number=int(number))
    return invoices.filter(condition)


def revenue_by_month(since: dt.datetime) -> list[tuple[dt.datetime, Decimal]]:
    """Paid invoices' subtotals (excluding tax) per calendar month since ``since``."""
    rows = (
        Invoice.objects.filter(status=InvoiceStatus.PAID, paid_at__gte=since)
        .annotate(month=TruncMonth("paid_at"))
        .values("month")
        .annotate(total=Sum("subtotal"))
        .order_by("month")
    )
    return [(row["month"], row["total"] or Decimal(0)) for row in rows]


def invoice_by_public_id(public_id: str) -> Invoice | None:
    return Invoice.objects.select_related("customer__owner").filter(public_id=public_id).first()


def refunds_of(invoice: Invoice) -> QuerySet[Refund]:
    return Refund.objects.filter(invoice=invoice).select_related("created_by", "credit_note")


def payments_for_staff() -> QuerySet[Payment]:
    """Money that came in through a gateway or a bank transfer (balance applications are not payments)."""
    return Payment.objects.select_related("customer__owner", "invoice").exclude(gateway="balance")


def tax_rates_all() -> QuerySet[TaxRate]:
    return TaxRate.objects.all()


def pending_payments_of(customer: Customer) -> QuerySet[Payment]:
    """Top-ups and invoice payments started at a gateway and not yet confirmed."""
    return Payment.objects.filter(customer=customer, status="pending").exclude(gateway="balance")
