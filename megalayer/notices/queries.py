"""Reads of the notices a customer can see."""

from __future__ import annotations

from django.db.models import QuerySet

from megalayer.accounts.models import User
from megalayer.notices.models import Notice


def notices_for_user(user: User) -> QuerySet[Notice]:
    """Everything sent to the customer's account or to the user's address."""
    customer = getattr(user, "customer", None)
    if customer is not None:
        return Notice.objects.filter(customer=customer)
    return Notice.objects.filter(recipient__iexact=user.email)
