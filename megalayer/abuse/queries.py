"""Reads of the abuse desk and legal matters for the back office and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from megalayer.abuse.actions import redact
from megalayer.abuse.models import (
    AbuseCase,
    AbuseEvent,
    AbuseReport,
    LegalExport,
    LegalHold,
    LegalOrder,
    RepeatOffence,
    TrustedReporter,
)
from megalayer.abuse.parsing import parse
from megalayer.accounts.models import Customer
from megalayer.core.ids import pk_or_none


def reports_for_staff(*, triage: bool = False) -> QuerySet[AbuseReport]:
    """Reports without their raw bytes (kept for evidence, shown on the report's own page)."""
    rows = AbuseReport.objects.defer("raw").prefetch_related("events")
    return rows.filter(needs_triage=True) if triage else rows


def report_by_public_id(public_id: str) -> AbuseReport | None:
    return AbuseReport.objects.filter(public_id=public_id).first()


def event_of_report(report: AbuseReport, pk: object) -> AbuseEvent | None:
    key = pk_or_none(pk)
    return AbuseEvent.objects.filter(report=report, pk=key).first() if key is not None else None


def cases_for_staff(status: str = "") -> QuerySet[AbuseCase]:
    rows = AbuseCase.objects.select_related("customer__owner", "service")
    return rows.filter(status=status) if status else rows


def case_by_public_id(public_id: str) -> AbuseCase | None:
    return AbuseCase.objects.select_related("customer__owner", "service").filter(public_id=public_id).first()


def cases_of(customer: Customer) -> QuerySet[AbuseCase]:
    """The customer's own cases: another customer's case is simply not found."""
    return AbuseCase.objects.filter(customer=customer).select_related("service")


def case_of(customer: Customer, public_id: str) -> AbuseCase | None:
    return cases_of(customer).filter(public_id=public_id).first()


def trusted_reporters() -> QuerySet[TrustedReporter]:
    return TrustedReporter.objects.all()


def trusted_reporter(pk: object) -> TrustedReporter | None:
    key = pk_or_none(pk)
    return TrustedReporter.objects.filter(pk=key).first() if key is not None else None


def legal_orders(limit: int = 100) -> QuerySet[LegalOrder]:
    return LegalOrder.objects.select_related("customer", "service")[:limit]


def legal_order_by_public_id(public_id: str) -> LegalOrder | None:
    return LegalOrder.objects.filter(public_id=public_id).select_related("customer__owner", "service").first()


def legal_hold_by_public_id(public_id: str) -> LegalHold | None:
    return LegalHold.objects.select_related("service", "customer").filter(public_id=public_id).first()


def legal_holds_for_staff(limit: int = 200) -> QuerySet[LegalHold]:
    return LegalHold.objects.select_related("customer__owner", "service", "case")[:limit]


def legal_export_by_public_id(public_id: str) -> LegalExport | None:
    return LegalExport.objects.filter(public_id=public_id).first()


def case_complaints(case: AbuseCase) -> list[str]:
    """The complaints behind a case as the customer may read them: each report's text, oldest first, with the
    reporters' e-mail addresses and phone numbers redacted, at most 4,000 characters each (TOS-ABUSE-1)."""
    reports = {event.report for event in case.events.select_related("report")}
    return [redact(parse(bytes(r.raw)).text.strip())[:4000] for r in sorted(reports, key=lambda r: r.received_at)]


def repeat_offences_for_staff(outcome: str = "") -> QuerySet[RepeatOffence]:
    rows = RepeatOffence.objects.select_related("customer__owner", "latest_case")
    return rows.filter(outcome=outcome) if outcome else rows


def repeat_offence_by_public_id(public_id: str) -> RepeatOffence | None:
    return RepeatOffence.objects.select_related("customer", "latest_case").filter(public_id=public_id).first()
