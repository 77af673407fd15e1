"""The Privacy Policy the Terms refer to (TOS-PRIVACY-1), published and accepted like the Terms (TOS-ACCEPT-2):
numbered versions that are never edited, an effective time that may not lie in the past, customers with
services told by e-mail with a summary, and who accepted which version, when and from where."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from megalayer.accounts.models import User
from megalayer.accounts.queries import customers_to_notify_of_terms
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.people import Person
from megalayer.notices.actions import PendingNotice, notices_create_many
from megalayer.notices.choices import Kind
from megalayer.privacy.models import PrivacyPolicyAcceptance, PrivacyPolicyVersion
from megalayer.privacy.queries import policy_in_force
from megalayer.terms.actions import publication_check
from megalayer.terms.middleware import request_info


def privacy_policy_publish(
    *, body: str, summary: str, update_date: dt.date, effective_at: dt.datetime, staff: User | None, actor: Actor
) -> PrivacyPolicyVersion:
    """Publish the next version. From the second version on, every customer who must hear of a Terms change
    hears of this one too (``privacy_policy_changed``), once."""
    publication_check(body=body, summary=summary, effective_at=effective_at, document="the Privacy Policy")
    now = clock.now()
    with transaction.atomic():
        last = PrivacyPolicyVersion.objects.select_for_update().order_by("-number").first()
        if last is not None and effective_at < last.effective_at:
            raise InvalidInput(f"The effective time must not be before version {last.number}'s.", field="effective_at")
        version = PrivacyPolicyVersion.objects.create(
            number=(last.number + 1) if last else 1,
            body=body,
            summary=summary.strip(),
            update_date=update_date,
            effective_at=effective_at,
            published_at=now,
            published_by=staff,
        )
        audit_record(
            actor=actor,
            action="privacy.policy_published",
            target_type="privacy_policy",
            target_id=str(version.number),
            requirement="TOS-PRIVACY-1",
            data={"effective_at": effective_at.isoformat(), "summary": version.summary},
        )
        if last is not None:
            notices_create_many(
                [
                    PendingNotice(
                        kind=Kind.PRIVACY_POLICY_CHANGED,
                        customer=customer,
                        dedupe_key=f"privacy_policy_changed:v{version.number}:{customer.pk}",
                        context={"version": version},
                    )
                    for customer in customers_to_notify_of_terms().select_related("owner")
                ]
            )
    return version


def privacy_policy_accept(
    *, user: Person, version: PrivacyPolicyVersion, method: str, ip_address: str | None
) -> PrivacyPolicyAcceptance:
    """Record that ``user`` accepted ``version``; accepting twice keeps the first record. Only a version in
    force or announced can be accepted."""
    if method not in PrivacyPolicyAcceptance.Method.values:
        raise InvalidInput(f"unknown acceptance method {method!r}", field="method")
    existing = PrivacyPolicyAcceptance.objects.filter(user_id=user.pk, version=version).first()
    if existing is not None:
        return existing
    current = policy_in_force(clock.now())
    if current is not None and version.number < current.number:
        raise RuleRefused(
            f"Version {version.number} is no longer in force; accept version {current.number}.",
            rule="policy-superseded",
            requirement="TOS-PRIVACY-1",
        )
    try:
        with transaction.atomic():
            return PrivacyPolicyAcceptance.objects.create(
                user_id=user.pk, version=version, accepted_at=clock.now(), ip_address=ip_address, method=method
            )
    except IntegrityError:
        return PrivacyPolicyAcceptance.objects.get(user_id=user.pk, version=version)


def accept_at_signup(request: HttpRequest, customer: Any) -> None:
    """The sign-up form's consent covers the Privacy Policy in force with the Terms (``accounts.signed_up``)."""
    version = policy_in_force(clock.now())
    if version is not None:
        privacy_policy_accept(
            user=customer.owner,
            version=version,
            method=PrivacyPolicyAcceptance.Method.SIGNUP,
            ip_address=request_info(request).ip_address,
        )
