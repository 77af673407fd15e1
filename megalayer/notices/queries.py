"""Reads of the notices a customer can see, and of the inbound mail staff see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from megalayer.accounts.models import User
from megalayer.notices.models import InboundMessage, Notice


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
