"""Writes about Terms: publishing a version, recording an acceptance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.people import Person
from megalayer.terms import hooks
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.policy import policy_parse
from megalayer.terms.queries import parse_clause_headings, version_at


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where an acceptance came from."""

    ip_address: str | None
    user_agent: str


def publication_check(*, body: str, summary: str, effective_at: dt.datetime, document: str) -> None:
    """What publishing a versioned document (the Terms, the Privacy Policy) needs: a text, a summary for the
    customers, and an effective time not in the past, since decisions were taken under the version before."""
    if not body.strip():
        raise InvalidInput(f"The text of {document} is required.", field="body")
    if not summary.strip():
        raise InvalidInput("Say what changed: customers receive this summary.", field="summary")
    if effective_at < clock.now() - dt.timedelta(minutes=1):
        raise InvalidInput("The effective time may not be in the past.", field="effective_at")


def terms_publish(
    *,
    body: str,
    summary: str,
    update_date: dt.date,
    effective_at: dt.datetime,
    policy: dict[str, Any],
    actor: Actor,
    published_by: Any = None,
    title: str = "Terms of Service",
) -> TermsVersion:
    """Publish the next version (TOS-ACCEPT-2) and e-mail the customers who must hear of it.

    The effective time may not lie in the past: a version cannot be made to
    have been in force already, as decisions were taken under its predecessor.
    """
    parsed = policy_parse(policy)
    publication_check(body=body, summary=summary, effective_at=effective_at, document="the Terms")
    now = clock.now()
    with transaction.atomic():
        last = TermsVersion.objects.select_for_update().order_by("-number").first()
        number = (last.number + 1) if last else 1
        if last is not None and effective_at < last.effective_at:
            raise InvalidInput(f"The effective time must not be before version {last.number}'s.", field="effective_at")
        version = TermsVersion.objects.create(
            number=number,
            title=title,
            body=body,
            summary=summary.strip(),
            update_date=update_date,
            effective_at=effective_at,
            published_at=now,
            published_by=published_by,
            clauses=parse_clause_headings(body),
            policy_data=parsed.model_dump(mode="json"),
        )
        audit_record(
            actor=actor,
            action="terms.publish",
            target_type="terms_version",
            target_id=str(number),
            requirement="TOS-ACCEPT-2",
            terms_version=number,
            data={"effective_at": effective_at.isoformat(), "summary": version.summary},
        )
        if number > 1:
            hooks.version_published.call(version)
    return version


def terms_accept(*, user: Person, version: TermsVersion, method: str, request_info: RequestInfo) -> TermsAcceptance:
    """Record that ``user`` accepted ``version``; accepting twice keeps the first record."""
    if method not in TermsAcceptance.Method.values:
        raise InvalidInput(f"unknown acceptance method {method!r}", field="method")
    if version.effective_at > clock.now() and method == TermsAcceptance.Method.CONTINUED_USE:
        raise RuleRefused(
            "A version is accepted by continued use only after its effective time.",
            rule="terms-not-yet-effective",
            requirement="TOS-ACCEPT-2",
        )
    existing = TermsAcceptance.objects.filter(user_id=user.pk, version=version).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return TermsAcceptance.objects.create(
                user_id=user.pk,
                version=version,
                accepted_at=clock.now(),
                ip_address=request_info.ip_address,
                user_agent=request_info.user_agent[:512],
                method=method,
            )
    except IntegrityError:
        # Two requests of the same user raced; the first one's record stands.
        return TermsAcceptance.objects.get(user_id=user.pk, version=version)


def terms_changes_seen(*, acceptance: TermsAcceptance) -> None:
    """The customer dismissed the 'what changed' page for this version."""
    TermsAcceptance.objects.filter(pk=acceptance.pk, changes_seen_at__isnull=True).update(changes_seen_at=clock.now())


def terms_current_or_refuse() -> TermsVersion:
    version = version_at(clock.now())
    if version is None:
        raise RuleRefused("No Terms are published yet.", rule="no-terms", requirement="TOS-ACCEPT-1")
    return version


def terms_record_continued_use(*, user: Person, request_info: RequestInfo) -> TermsAcceptance | None:
    """Record acceptance by continued use of the version in force, if not yet accepted (TOS-ACCEPT-2).

    Staff are bound by their employment, not by the customer Terms.
    """
    if user.is_staff:
        return None
    version = version_at(clock.now())
    if version is None or TermsAcceptance.objects.filter(user_id=user.pk, version=version).exists():
        return None
    return terms_accept(
        user=user, version=version, method=TermsAcceptance.Method.CONTINUED_USE, request_info=request_info
    )


def terms_erase_addresses(*, user: Person) -> dict[str, int]:
    """Erase where the acceptances came from (TOS-PRIVACY-1); the version and time stay, the contract rests on them."""
    return {
        "terms_acceptance_addresses": TermsAcceptance.objects.filter(user_id=user.pk).update(
            ip_address=None, user_agent=""
        )
    }
