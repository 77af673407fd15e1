"""Reads of account-deletion requests for the back office and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from megalayer.accounts.models import Customer
from megalayer.privacy.models import ErasureRequest


def erasures_for_staff(status: str = "") -> QuerySet[ErasureRequest]:
    rows = ErasureRequest.objects.select_related("customer__owner")
    return rows.filter(status=status) if status in ErasureRequest.Status.values else rows


def erasure_scheduled(customer: Customer) -> ErasureRequest | None:
    """The customer's deletion waiting for its grace period to end, if any."""
    return ErasureRequest.objects.filter(customer=customer, status=ErasureRequest.Status.SCHEDULED).first()
