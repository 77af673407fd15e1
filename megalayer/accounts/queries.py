"""Reads about customers."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from megalayer.accounts.models import Customer


def customers_to_notify_of_terms() -> QuerySet[Customer]:
    """Who hears of a new Terms version: every active customer (TOS-ACCEPT-2).

    The requirement names customers with services; until services exist every
    active account is bound by the Terms, so every active account is told.
    """
    return Customer.objects.filter(status=Customer.Status.ACTIVE, owner__is_active=True).select_related("owner")


def customers_search(query: str) -> QuerySet[Customer]:
    customers = Customer.objects.select_related("owner", "billing_profile").order_by("-created_at")
    query = query.strip()
    if not query:
        return customers
    return customers.filter(
        Q(public_id__iexact=query)
        | Q(owner__email__icontains=query)
        | Q(owner__full_name__icontains=query)
        | Q(billing_profile__name__icontains=query)
        | Q(billing_profile__organisation__icontains=query)
    )
