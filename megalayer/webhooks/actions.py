"""Outgoing webhooks (issue 20): endpoints, deliveries from the events' own transactions, signed HTTP POSTs
retried with back-off, replay, and the SSRF guard.

Nothing is lost and nothing is handled twice: a delivery row is written in the transaction that caused the
event (``core.events``), a sender claims it (pending → sending) before the request, and a sender killed
mid-request leaves it "sending" until the sweep gives it back after ``LEASE``. The same event may then reach
the receiver twice, always with the same ``Megalayer-Event-Id`` (and ``Idempotency-Key``) header: a receiver
that remembers the ids it handled handles each event exactly once. The documented verification snippet
(docs/operations.md, "Outgoing webhooks") is run by the tests against real deliveries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.events import EVENT_TYPES, Event
from megalayer.core.outbox import Outbox
from megalayer.core.tasks import enqueue_on_commit
from megalayer.core.transactions import outermost
from megalayer.webhooks.choices import DELIVERY_STATUS, DeliveryStatus
from megalayer.webhooks.models import Attempt, Delivery, Endpoint

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Megalayer-Signature"
EVENT_HEADER = "Megalayer-Event-Id"
MAX_ATTEMPTS = 10
LEASE = dt.timedelta(minutes=2)  # far above the request timeout: a claim older than this lost its sender
REQUIREMENT = "TOS-AUDIT-1"


# The deliveries outbox (core/outbox.py): after the n-th failed attempt 1, 3, 9 … minutes, at most 6 hours
# (ten attempts span about a day); a claim older than the lease lost its sender.
OUTBOX = Outbox(
    DELIVERY_STATUS,
    waiting=DeliveryStatus.PENDING,
    sending=DeliveryStatus.SENDING,
    lease=LEASE,
    first_seconds=60,
    factor=3,
    cap_seconds=6 * 3600,
)
retry_delay = OUTBOX.retry_delay


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Stripe-style: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``. The timestamp is signed too, so
    a captured request cannot be replayed later than the receiver's tolerance."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(text, strict=False) for text in settings.WEBHOOK_ALLOW_NETWORKS]


def url_check(url: str) -> None:
    """Refuse a URL that is not http(s) or whose host resolves to an address the platform must not call on an
    operator's behalf (loopback, private, link-local such as cloud metadata at 169.254.169.254, multicast,
    reserved), unless ``MEGALAYER_WEBHOOK_ALLOW_NETWORKS`` names its network. Checked at subscription and
    again before every request (a name may resolve elsewhere later)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("Enter an http:// or https:// URL.", field="url")
    if parts.username or parts.password:
        raise InvalidInput("Put no credentials in the URL; the signature authenticates the platform.", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        resolved = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)}
    except (OSError, ValueError) as error:
        raise InvalidInput(f"The host {parts.hostname} does not resolve.", field="url") from error
    allowed = _allowed_networks()
    for text in sorted(resolved):
        address = ipaddress.ip_address(str(text).split("%", 1)[0])
        if any(address in network for network in allowed):
            continue
        if not address.is_global or address.is_multicast:
            raise InvalidInput(
                f"{parts.hostname} resolves to {address}, a private or reserved address: refused (SSRF). An "
                "operator may allow its network with MEGALAYER_WEBHOOK_ALLOW_NETWORKS.",
                field="url",
            )


def _events_checked(events: list[str]) -> list[str]:
    chosen = sorted(set(events))
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if not chosen or unknown:
        raise InvalidInput(f"Choose event types among: {', '.join(EVENT_TYPES)}.", field="events")
    return chosen


def endpoint_create(*, staff: User, url: str, events: list[str], description: str = "") -> tuple[Endpoint, str]:
    """Subscribe ``url`` to ``events``; returns the endpoint and its signing secret (shown once)."""
    chosen = _events_checked(events)
    if len(url) > 500:
        raise InvalidInput("Keep the URL under 500 characters.", field="url")
    url_check(url)
    key = "whsec_" + secrets.token_urlsafe(32)
    with outermost():
        endpoint = Endpoint.objects.create(
            url=url.strip(),
            description=description.strip()[:200],
            events=chosen,
            secret={"key": key},
            created_at=clock.now(),
            created_by=staff.email,
        )
        audit_record(
            actor=Actor.for_user(staff),
            action="webhook.endpoint_created",
            target_type="webhook_endpoint",
            target_id=endpoint.public_id,
            requirement=REQUIREMENT,
            data={"url": endpoint.url, "events": chosen},
        )
    return endpoint, key


def endpoint_set_active(*, endpoint: Endpoint, active: bool, staff: User) -> None:
    """Pause or resume an endpoint: while paused, new events are not queued for it (pending ones still go)."""
    with outermost():
        if Endpoint.objects.filter(pk=endpoint.pk).exclude(active=active).update(active=active):
            audit_record(
                actor=Actor.for_user(staff),
                action="webhook.endpoint_resumed" if active else "webhook.endpoint_paused",
                target_type="webhook_endpoint",
                target_id=endpoint.public_id,
                requirement=REQUIREMENT,
                data={},
            )
    endpoint.active = active


def deliveries_for_events(events: list[Event]) -> int:
    """The ``core.events.emitted`` receiver: one delivery per active endpoint subscribed to each event's type,
    in the caller's transaction (one query for the endpoints and one insert per batch); each is sent once that
    transaction commits."""
    endpoints = list(Endpoint.objects.filter(active=True).only("pk", "events"))
    if not endpoints:
        return 0
    now = clock.now()
    rows: list[Delivery] = []
    for event in events:
        body = json.dumps(event.payload(), separators=(",", ":"), sort_keys=True)
        rows.extend(
            Delivery(
                endpoint=endpoint,
                event_id=event.id,
                event_type=event.type,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in endpoints
            if event.type in endpoint.events
        )
    created = Delivery.objects.bulk_create(rows)
    from megalayer.webhooks.tasks import webhook_deliver_task

    for delivery in created:
        enqueue_on_commit(webhook_deliver_task, delivery.pk)
    return len(created)


def _claim(delivery_id: int) -> Delivery | None:
    return Delivery.objects.select_related("endpoint").get(pk=delivery_id) if OUTBOX.claim(delivery_id) else None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could point anywhere (an internal address): it counts as a failed attempt, not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _post(delivery: Delivery) -> tuple[int | None, str]:
    """One signed POST of the frozen body; (status code, error text)."""
    body = delivery.body.encode()
    try:
        url_check(delivery.endpoint.url)  # again: the name may resolve elsewhere than at subscription
    except InvalidInput as refused:
        return None, refused.detail
    request = urllib.request.Request(  # noqa: S310 - url_check admits http(s) only
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Megalayer-Webhooks/1",
            EVENT_HEADER: delivery.event_id,
            "Idempotency-Key": delivery.event_id,
            "Megalayer-Event-Type": delivery.event_type,
            SIGNATURE_HEADER: signature(delivery.endpoint.secret["key"], int(clock.now().timestamp()), body),
        },
    )
    try:
        with _OPENER.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(1024)
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return None, f"{type(error).__name__}: {getattr(error, 'reason', error)}"


def delivery_send(*, delivery_id: int) -> str:
    """Send one due delivery; a 2xx answer delivers it, anything else schedules the next attempt with back-off
    (after ``MAX_ATTEMPTS`` it is failed and waits for a replay). Returns the status it ends in, or
    "skipped" when it was not due or another sender holds it."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    started = time.monotonic()
    code, error = _post(delivery)
    now = clock.now()
    Attempt.objects.create(
        delivery=delivery,
        at=now,
        status_code=code,
        error=error[:500],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if code is not None and 200 <= code < 300:
        target, also = DeliveryStatus.DELIVERED, {"delivered_at": now, "last_error": ""}
    else:
        target = DeliveryStatus.FAILED if delivery.attempts >= MAX_ATTEMPTS else DeliveryStatus.PENDING
        also = {"last_error": error[:500], "next_attempt_at": now + retry_delay(delivery.attempts)}
    DELIVERY_STATUS.claim(
        Delivery.objects.filter(pk=delivery.pk),
        sources=[DeliveryStatus.SENDING],
        target=target,
        last_status_code=code,
        **also,
    )
    logger.info("webhook.%s", target, extra={"delivery": delivery.public_id, "status_code": code})
    return target


def webhooks_deliver_due(limit: int = 500) -> dict[str, int]:
    """The periodic sweep: give back deliveries a killed sender left "sending" past the lease, then send every
    due delivery, oldest first."""
    results: dict[str, int] = {"released": OUTBOX.release_stale()}
    for delivery_id in OUTBOX.due_ids(limit):
        outcome = delivery_send(delivery_id=delivery_id)
        results[outcome] = results.get(outcome, 0) + 1
    return results


def delivery_replay(*, delivery: Delivery, staff: User) -> Delivery:
    """Send a delivered or failed delivery again, with the same event id and body (the receiver dedupes)."""
    with outermost():
        moved = DELIVERY_STATUS.claim(
            Delivery.objects.filter(pk=delivery.pk),
            sources=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED],
            target=DeliveryStatus.PENDING,
            next_attempt_at=clock.now(),
        )
        if not moved:
            raise RuleRefused(
                "Only a delivered or failed delivery can be replayed; this one is still being sent.",
                rule="webhook-not-replayable",
                requirement=REQUIREMENT,
            )
        audit_record(
            actor=Actor.for_user(staff),
            action="webhook.replayed",
            target_type="webhook_delivery",
            target_id=delivery.public_id,
            requirement=REQUIREMENT,
            data={"event": delivery.event_id},
        )
        from megalayer.webhooks.tasks import webhook_deliver_task

        enqueue_on_commit(webhook_deliver_task, delivery.pk)
    delivery.refresh_from_db()
    return delivery
