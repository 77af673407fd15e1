"""Reads over the audit log, including the chain verification."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from megalayer.audit.actions import GENESIS_HASH, event_digest
from megalayer.audit.models import AuditChainHead, AuditEvent


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_event_id: int | None = None
    reason: str = ""


def audit_verify(batch_size: int = 2000) -> VerifyResult:
    """Walk the chain from the first event; report the first event whose hash or link is wrong."""
    expected_prev = GENESIS_HASH
    expected_id = 1
    checked = 0
    last_id = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            break
        for event in batch:
            if event.id != expected_id:
                return VerifyResult(False, checked, expected_id, f"event #{expected_id} is missing")
            if event.prev_hash != expected_prev:
                return VerifyResult(False, checked, event.id, "link to the previous event is broken")
            if event_digest(event) != event.hash:
                return VerifyResult(False, checked, event.id, "content does not match its hash")
            expected_prev = event.hash
            expected_id += 1
            checked += 1
            last_id = event.id
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and head.last_event_id != last_id:
        return VerifyResult(False, checked, last_id + 1, f"events after #{last_id} are missing")
    return VerifyResult(True, checked)


def audit_search(
    *, action: str = "", requirement: str = "", target_id: str = "", actor: str = ""
) -> QuerySet[AuditEvent]:
    """The back office's and the staff API's filters: action by prefix (``legal.``), requirement and target
    exactly, actor by part of its label."""
    events = AuditEvent.objects.all()
    if action.strip():
        events = events.filter(action__startswith=action.strip())
    if requirement.strip():
        events = events.filter(requirement=requirement.strip())
    if target_id.strip():
        events = events.filter(target_id=target_id.strip())
    if actor.strip():
        events = events.filter(actor_label__icontains=actor.strip())
    return events


def recent_events(limit: int = 10) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.all()[:limit]


def events_about(target_type: str, target_id: str) -> QuerySet[AuditEvent]:
    """What the audit log says about one object, oldest first."""
    return AuditEvent.objects.filter(target_type=target_type, target_id=target_id).order_by("id")
