"""Reads for the back office: endpoints, and an endpoint's deliveries with their attempts."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from megalayer.webhooks.models import Attempt, Delivery, Endpoint


def endpoints_for_staff() -> QuerySet[Endpoint]:
    return Endpoint.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status__in=["pending", "sending"])),
        failed=Count("deliveries", filter=Q(deliveries__status="failed")),
    )


def endpoint_by_public_id(public_id: str) -> Endpoint | None:
    return Endpoint.objects.filter(public_id=public_id).first()


def deliveries_of(endpoint: Endpoint, status: str = "", query: str = "") -> QuerySet[Delivery]:
    rows = endpoint.deliveries.prefetch_related(Prefetch("attempt_rows", queryset=Attempt.objects.order_by("at")))
    if status:
        rows = rows.filter(status=status)
    query = query.strip()
    if query:
        rows = rows.filter(Q(event_id=query) | Q(public_id=query) | Q(event_type=query))
    return rows


def delivery_status_counts(endpoint: Endpoint) -> dict[str, int]:
    return dict(endpoint.deliveries.values_list("status").annotate(n=Count("id")))


def delivery_of(endpoint: Endpoint, public_id: str) -> Delivery | None:
    return endpoint.deliveries.filter(public_id=public_id).first()
