"""Reads of the notices a customer can see, and of the inbound mail staff see."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db.models import Count, Max, Q, QuerySet

from megalayer.accounts.models import Customer, User
from megalayer.notices.models import AttackAlarm, InboundMessage, NetworkNotice, Notice

if TYPE_CHECKING:
    from megalayer.services.models import Service


def notices_for_user(user: User) -> QuerySet[Notice]:
    """Everything sent to the customer's account or to the user's address."""
    customer = getattr(user, "customer", None)
    if customer is not None:
        return Notice.objects.filter(customer=customer)
    return Notice.objects.filter(recipient__iexact=user.email)


def inbound_messages(*, kind: str = "", query: str = "", waiting: bool = False) -> QuerySet[InboundMessage]:
    """Stored inbound mail for the back office, newest first, without the raw bytes."""
    rows = InboundMessage.objects.defer("raw")
    if kind in InboundMessage.Kind.values:
        rows = rows.filter(kind=kind)
    if waiting:
        rows = rows.filter(handled_at__isnull=True)
    query = query.strip()
    if query:
        rows = rows.filter(
            Q(public_id__iexact=query)
            | Q(sender__icontains=query)
            | Q(subject__icontains=query)
            | Q(message_id__icontains=query)
            | Q(envelope_recipients__icontains=query)
        )
    return rows


def notice_status_counts() -> dict[str, int]:
    return dict(Notice.objects.values_list("status").annotate(n=Count("id")))


def notices_of_customer(customer: Customer) -> QuerySet[Notice]:
    return Notice.objects.filter(customer=customer)


def latest_notice_of_kind(kind: str) -> Notice | None:
    """The newest real message of a kind: what the back office previews and test-sends."""
    return Notice.objects.filter(kind=kind).order_by("-created_at").first() if kind else None


def latest_notice_times() -> dict[str, dt.datetime]:
    return dict(Notice.objects.values_list("kind").annotate(at=Max("created_at")))


def inbound_message(public_id: str) -> InboundMessage | None:
    return InboundMessage.objects.filter(public_id=public_id).first()


def network_notice_by_public_id(public_id: str) -> NetworkNotice | None:
    return NetworkNotice.objects.filter(public_id=public_id).first()


def network_notices_for_staff(limit: int = 50) -> QuerySet[NetworkNotice]:
    rows = NetworkNotice.objects.select_related("location", "tier", "host")
    return rows.annotate(told=Count("recipients", distinct=True))[:limit]


def attack_alarms_for_staff(*, open_only: bool = False) -> QuerySet[AttackAlarm]:
    rows = AttackAlarm.objects.select_related("customer__owner", "service", "null_route")
    return rows.filter(ended_at__isnull=True) if open_only else rows


def attack_alarms_of_service(service: Service) -> QuerySet[AttackAlarm]:
    """A service's attack alarms, newest first: what its customer was told (TOS-ATTACK-1)."""
    return AttackAlarm.objects.filter(service=service).select_related("null_route")
