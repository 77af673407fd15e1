"""Reads of billing data, scoped to a customer where a customer asks."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from megalayer.accounts.models import Customer
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import Invoice


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
