"""The only writer of audit events."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from megalayer.audit import hooks
from megalayer.audit.models import AuditChainHead, AuditEvent
from megalayer.core import clock
from megalayer.core.people import Person

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: automation, a staff member or a customer."""

    kind: str
    id: str = ""
    label: str = ""

    @classmethod
    def system(cls, label: str = "automation") -> Actor:
        return cls(kind=AuditEvent.ActorKind.SYSTEM, label=label)

    @classmethod
    def for_user(cls, user: Person) -> Actor:
        kind = AuditEvent.ActorKind.STAFF if user.is_staff else AuditEvent.ActorKind.CUSTOMER
        return cls(kind=kind, id=str(user.pk), label=user.email)


def event_digest(event: AuditEvent) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the event's content."""
    content = {
        "id": event.id,
        "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat(),
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "requirement": event.requirement,
        "terms_version": event.terms_version,
        "data": event.data,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((event.prev_hash + canonical).encode()).hexdigest()


def audit_record(
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    requirement: str,
    terms_version: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    The chain head row is locked first, so the event id and its predecessor's
    hash are decided by one writer at a time on every database.
    """
    if terms_version is None:
        terms_version = next(iter(hooks.terms_version_at.call(clock.now())), None)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_hash": GENESIS_HASH, "last_event_id": 0}
        )
        event = AuditEvent(
            id=head.last_event_id + 1,
            occurred_at=clock.now(),
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_label=actor.label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            requirement=requirement,
            terms_version=terms_version,
            data=json.loads(json.dumps(data or {}, default=str)),
            prev_hash=head.last_hash,
        )
        event.hash = event_digest(event)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(id=1).update(last_hash=event.hash, last_event_id=event.id)
    return event


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One event for ``audit_record_many``."""

    action: str
    target_type: str
    target_id: str
    requirement: str
    data: dict[str, Any]


def audit_record_many(*, actor: Actor, events: list[PendingEvent], terms_version: int | None) -> int:
    """Append many events with one lock of the chain head and one insert (the automation's batches)."""
    if not events:
        return 0
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_hash": GENESIS_HASH, "last_event_id": 0}
        )
        now = clock.now()
        rows: list[AuditEvent] = []
        previous, next_id = head.last_hash, head.last_event_id + 1
        for pending in events:
            event = AuditEvent(
                id=next_id,
                occurred_at=now,
                actor_kind=actor.kind,
                actor_id=actor.id,
                actor_label=actor.label,
                action=pending.action,
                target_type=pending.target_type,
                target_id=pending.target_id,
                requirement=pending.requirement,
                terms_version=terms_version,
                data=json.loads(json.dumps(pending.data, default=str)),
                prev_hash=previous,
            )
            event.hash = event_digest(event)
            rows.append(event)
            previous, next_id = event.hash, next_id + 1
        AuditEvent.objects.bulk_create(rows)
        AuditChainHead.objects.filter(id=1).update(last_hash=previous, last_event_id=next_id - 1)
    return len(rows)
