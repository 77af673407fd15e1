"""Reads of orders for the faces."""

from __future__ import annotations

from django.db.models import QuerySet

from megalayer.accounts.models import Customer
from megalayer.orders.models import Order


def orders_in_review() -> QuerySet[Order]:
    """Orders waiting for staff review (TOS-REFUSE-1), oldest first."""
    return Order.objects.filter(status=Order.Status.IN_REVIEW).select_related("customer__owner", "product")


def order_by_public_id(public_id: str) -> Order | None:
    return Order.objects.filter(public_id=public_id).select_related("customer__owner", "product").first()


def orders_of(customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer).select_related("product", "invoice", "service")
