"""Network notices: maintenance windows and incidents (TOS-NET-2, TOS-MAINT-1).

Staff target a location, a network tier, a host, a list of services, or a combination
(all given criteria apply). The affected services are fixed when the notice is
published; their customers are e-mailed once each and see a banner on those services
until the window ends. Updates and the resolution are appended and e-mailed to the same
people. A public status page lists current and recent notices without customer data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.notices.actions import notice_for_customer
from megalayer.notices.models import NetworkNotice, NetworkNoticeRecipient, NetworkNoticeUpdate
from megalayer.services.models import Service

LIVE_STATUSES = ("provisioning", "active", "suspended")
RECENT = dt.timedelta(days=30)


def affected_services(
    *, location: Any = None, tier: Any = None, host: Any = None, services: list[Any] | None = None
) -> QuerySet[Service]:
    rows = Service.objects.filter(status__in=LIVE_STATUSES)
    if location is not None:
        rows = rows.filter(product__location=location)
    if tier is not None:
        rows = rows.filter(product__tier=tier)
    if host is not None:
        rows = rows.filter(server__host=host, server__destroyed_at__isnull=True)
    if services:
        rows = rows.filter(pk__in=[s.pk for s in services])
    return rows


def network_notice_publish(
    *,
    staff: User,
    kind: str,
    title: str,
    body: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime | None = None,
    location: Any = None,
    tier: Any = None,
    host: Any = None,
    services: list[Any] | None = None,
) -> NetworkNotice:
    if kind not in NetworkNotice.Kind.values:
        raise InvalidInput("Choose maintenance or incident.", field="kind")
    if not title.strip():
        raise InvalidInput("Give the notice a title.", field="title")
    if not body.strip():
        raise InvalidInput("Say what happens and what customers should expect.", field="body")
    if kind == NetworkNotice.Kind.MAINTENANCE and ends_at is None:
        raise InvalidInput("A maintenance window needs an end.", field="ends_at")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("The window must end after it starts.", field="ends_at")
    if location is None and tier is None and host is None and not services:
        raise InvalidInput("Target a location, a network tier, a host or services.", field="location")

    with transaction.atomic():
        notice = NetworkNotice.objects.create(
            kind=kind,
            title=title.strip(),
            body=body.strip(),
            starts_at=starts_at,
            ends_at=ends_at,
            location=location,
            tier=tier,
            host=host,
            published_by=str(staff),
            created_at=clock.now(),
        )
        hit = list(
            affected_services(location=location, tier=tier, host=host, services=services).select_related(
                "customer__owner"
            )
        )
        notice.services.set(hit)
        customers = {s.customer_id: s.customer for s in hit}
        NetworkNoticeRecipient.objects.bulk_create(
            [NetworkNoticeRecipient(notice=notice, customer=c) for c in customers.values()]
        )
        for customer in customers.values():
            theirs = [s for s in hit if s.customer_id == customer.pk]
            notice_for_customer(
                kind="network_notice",
                customer=customer,
                dedupe_key=f"network_notice:{notice.public_id}:{customer.pk}",
                context={"notice": notice, "services": theirs},
            )
        audit_record(
            actor=Actor.for_user(staff),
            action="network_notice.published",
            target_type="network_notice",
            target_id=notice.public_id,
            requirement="TOS-MAINT-1" if kind == NetworkNotice.Kind.MAINTENANCE else "TOS-NET-2",
            data={"scope": notice.scope, "services": len(hit), "customers": len(customers)},
        )
    return notice


def network_notice_update(
    *, notice: NetworkNotice, staff: User, body: str, resolve: bool = False
) -> NetworkNoticeUpdate:
    """Append an update (or the resolution) and e-mail it to everyone told of the notice."""

    if not body.strip():
        raise InvalidInput("Write the update.", field="body")
    with transaction.atomic():
        notice = NetworkNotice.objects.select_for_update().get(pk=notice.pk)
        if notice.resolved_at is not None:
            raise RuleRefused("This notice is resolved.", rule="notice-resolved", requirement="TOS-NET-2")
        now = clock.now()
        update = NetworkNoticeUpdate.objects.create(notice=notice, at=now, body=body.strip(), resolves=resolve)
        if resolve:
            ends = notice.ends_at if notice.ends_at is not None and notice.ends_at < now else now
            NetworkNotice.objects.filter(pk=notice.pk).update(resolved_at=now, ends_at=ends)
            notice.refresh_from_db()
        for recipient in NetworkNoticeRecipient.objects.filter(notice=notice).select_related("customer__owner"):
            notice_for_customer(
                kind="network_notice_update",
                customer=recipient.customer,
                dedupe_key=f"network_notice_update:{update.pk}:{recipient.customer_id}",
                context={"notice": notice, "update": update},
            )
        audit_record(
            actor=Actor.for_user(staff),
            action="network_notice.resolved" if resolve else "network_notice.updated",
            target_type="network_notice",
            target_id=notice.public_id,
            requirement="TOS-NET-2",
            data={"body": body[:500]},
        )
    return update


def _current(now: dt.datetime) -> Q:
    return Q(resolved_at__isnull=True) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))


def banners_for(service: Service) -> QuerySet[NetworkNotice]:
    """The notices shown on a service: published for it and not over."""
    return service.network_notices.filter(_current(clock.now())).order_by("starts_at")


def status_page() -> dict[str, list[NetworkNotice]]:
    now = clock.now()
    rows = NetworkNotice.objects.select_related("location", "tier", "host").prefetch_related("updates")
    current = list(rows.filter(_current(now)).order_by("starts_at"))
    recent = list(rows.exclude(_current(now)).filter(Q(ends_at__gte=now - RECENT) | Q(resolved_at__gte=now - RECENT)))
    return {"current": current, "recent": recent}
