"""Reads of account-deletion requests and of the Privacy Policy's versions, for the faces."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from megalayer.accounts.models import Customer
from megalayer.core.people import Person
from megalayer.privacy.models import ErasureRequest, PrivacyPolicyAcceptance, PrivacyPolicyVersion


def erasures_for_staff(status: str = "") -> QuerySet[ErasureRequest]:
    rows = ErasureRequest.objects.select_related("customer__owner")
    return rows.filter(status=status) if status in ErasureRequest.Status.values else rows


def erasure_scheduled(customer: Customer) -> ErasureRequest | None:
    """The customer's deletion waiting for its grace period to end, if any."""
    return ErasureRequest.objects.filter(customer=customer, status=ErasureRequest.Status.SCHEDULED).first()


def policy_in_force(moment: dt.datetime) -> PrivacyPolicyVersion | None:
    """The Privacy Policy version in force at ``moment``: the newest whose effective time has come."""
    return PrivacyPolicyVersion.objects.filter(effective_at__lte=moment).order_by("-effective_at", "-number").first()


def policy_upcoming(moment: dt.datetime) -> PrivacyPolicyVersion | None:
    return PrivacyPolicyVersion.objects.filter(effective_at__gt=moment).order_by("effective_at").first()


def policy_versions(moment: dt.datetime) -> QuerySet[PrivacyPolicyVersion]:
    """Every version in force now or before, newest first: each stays readable."""
    return PrivacyPolicyVersion.objects.filter(effective_at__lte=moment).order_by("-number")


def policy_version(number: int, moment: dt.datetime) -> PrivacyPolicyVersion | None:
    """A version by number: one in force now or before, or the one announced."""
    version = PrivacyPolicyVersion.objects.filter(number=number).first()
    if version is None:
        return None
    upcoming = policy_upcoming(moment)
    if version.effective_at <= moment or (upcoming is not None and upcoming.pk == version.pk):
        return version
    return None


def policy_acceptances(user: Person) -> dict[int, PrivacyPolicyAcceptance]:
    """The user's acceptances by version number."""
    rows = PrivacyPolicyAcceptance.objects.filter(user_id=user.pk).select_related("version")
    return {row.version.number: row for row in rows}


def policy_versions_for_staff() -> QuerySet[PrivacyPolicyVersion]:
    """Every version, announced ones too, newest first, with how many users accepted each."""
    return PrivacyPolicyVersion.objects.annotate(accepted=Count("acceptances")).order_by("-number")
