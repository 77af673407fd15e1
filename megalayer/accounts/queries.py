"""Reads about customers."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.db.models import Q, QuerySet

from megalayer.accounts.models import Customer


def customers_to_notify_of_terms() -> QuerySet[Customer]:
    """Who is e-mailed about a new Terms version: customers with services in use (TOS-ACCEPT-2).

    Everyone else sees the new version at their next sign-in (banner and diff).
    """
    in_use = ["pending", "provisioning", "active", "suspended"]
    return (
        Customer.objects.filter(status=Customer.Status.ACTIVE, owner__is_active=True, services__status__in=in_use)
        .distinct()
        .select_related("owner")
    )


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


SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_second_factor(user: Any) -> bool:
    """Whether the account has an authenticator app or a security key (recovery codes alone do not count)."""
    return bool(Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists())
