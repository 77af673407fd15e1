"""Reads about services: a customer's, and the next step of each with its date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from megalayer.accounts.models import Customer
from megalayer.core import clock
from megalayer.services.choices import CancelStatus, Reason, Status
from megalayer.services.models import Cancellation, Service
from megalayer.terms.queries import policy_at


def pending_cancellation_at() -> Subquery:
    """The effective moment of a service's pending cancellation, for ``annotate(pending_cancel_at=…)``."""
    return Subquery(
        Cancellation.objects.filter(service=OuterRef("pk"), status=CancelStatus.PENDING).values("effective_at")[:1]
    )


def services_of(customer: Customer) -> QuerySet[Service]:
    return (
        Service.objects.filter(customer=customer)
        .select_related("product__location", "product__tier", "os_image")
        .annotate(pending_cancel_at=pending_cancellation_at())
    )


@dataclass(frozen=True, slots=True)
class NextStep:
    what: str
    at: dt.datetime | None
    clause: str


_SUSPENDED_FOR: dict[str, str] = {
    Reason.ABUSE: "Suspended for abuse: answer the abuse case (Abuse in the menu); staff lift it when resolved",
    Reason.VIOLATION: "Suspended for a violation of the Terms: open a ticket to the abuse department",
    Reason.STAFF: "Suspended by staff: open a ticket to learn why and what to do",
}


def next_step(service: Service) -> NextStep:
    """What happens next to ``service`` and when, as the customer should read it."""
    policy = policy_at(clock.now())
    if service.status in (Status.PENDING, Status.PROVISIONING):
        return NextStep("Being set up", None, "Megalayer Service")
    if service.status in (Status.TERMINATED, Status.TERMINATING, Status.FAILED):
        return NextStep(service.get_status_display(), service.terminated_at, "Payment and Refund Policy 2")
    suspend_at = service.paid_until + dt.timedelta(days=policy.expiry.suspend_after_days)
    delete_at = service.paid_until + dt.timedelta(days=policy.expiry.delete_after_days)
    if service.renewal_denied:
        return NextStep("Ends (renewal denied)", service.paid_until, "Preamble: deny renewal")
    if service.cancel_at is not None:
        return NextStep("Ends (cancelled by you)", service.cancel_at, "Service Term")
    if service.status == Status.SUSPENDED and service.reason != Reason.OVERDUE:
        return NextStep(_SUSPENDED_FOR.get(service.reason, _SUSPENDED_FOR[Reason.STAFF]), None, "Disclaimers 2")
    if service.status == Status.SUSPENDED:
        return NextStep("Data deletion unless paid", delete_at, "Payment and Refund Policy 2")
    if clock.now() >= service.paid_until:
        return NextStep("Suspension unless paid", suspend_at, "Payment and Refund Policy 1")
    invoice_at = service.paid_until - dt.timedelta(days=policy.renewal.invoice_days_before)
    if clock.now() < invoice_at:
        return NextStep("Renewal invoice", invoice_at, "Payment and Refund Policy 1")
    return NextStep(
        "Renewal due" + (" (paid from balance)" if service.auto_renew else ""),
        service.paid_until,
        "Payment and Refund Policy 1",
    )


def services_by_status() -> dict[str, int]:
    return dict(Service.objects.values_list("status").annotate(n=Count("id")))


def services_paid_until_between(start: dt.datetime, end: dt.datetime, statuses: tuple[str, ...]) -> int:
    """How many services in ``statuses`` are paid until a moment in [start, end): renewals and deletions due."""
    return Service.objects.filter(status__in=statuses, paid_until__gte=start, paid_until__lt=end).count()


def services_search(query: str = "", status: str = "") -> QuerySet[Service]:
    rows = Service.objects.select_related("customer__owner", "product__location")
    if status:
        rows = rows.filter(status=status)
    query = query.strip()
    if query:
        rows = rows.filter(
            Q(public_id=query) | Q(customer__owner__email__icontains=query) | Q(customer__public_id=query)
        )
    return rows


def service_by_public_id(public_id: str) -> Service | None:
    return Service.objects.select_related("customer__owner", "product").filter(public_id=public_id).first()


def services_by_public_ids(public_ids: list[str]) -> list[Service]:
    return list(Service.objects.filter(public_id__in=public_ids))


def cancellations_search(query: str = "", status: str = "") -> QuerySet[Cancellation]:
    """The back office's list of cancellation requests, newest first, by service, customer or e-mail."""
    rows = Cancellation.objects.select_related("service__customer__owner", "service__product")
    if status:
        rows = rows.filter(status=status)
    query = query.strip()
    if query:
        rows = rows.filter(
            Q(public_id=query)
            | Q(service__public_id=query)
            | Q(service__customer__public_id=query)
            | Q(service__customer__owner__email__icontains=query)
        )
    return rows


def cancellations_by_status() -> dict[str, int]:
    return dict(Cancellation.objects.values_list("status").annotate(n=Count("id")))
