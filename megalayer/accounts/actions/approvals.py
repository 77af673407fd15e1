"""Four eyes (issue 14, item 6): actions one staff member asks for and a second one approves.

An app registers each kind of action it guards (``approval_kind_register`` in its ``AppConfig.ready``):
the permission a decider needs and how to carry the action out. This module never imports those apps, so
the registry is how a decision reaches them. The requester can never decide their own request; the action
runs inside the decision's transaction, so a refusal by the action (an amount over what was paid) leaves the
request pending with nothing done. Both names are in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from megalayer.accounts.choices import APPROVAL_STATUS
from megalayer.accounts.models import Approval, User
from megalayer.accounts.roles import declared, staff_may
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import Forbidden, InvalidInput, RuleRefused


@dataclass(frozen=True, slots=True)
class ApprovalKind:
    permission: str
    execute: Callable[[Approval], str]  # returns what was done (an ID), for the record
    requirement: str


KINDS: dict[str, ApprovalKind] = {}


def approval_kind_register(kind: str, *, permission: str, execute: Callable[[Approval], str], requirement: str) -> None:
    KINDS[kind] = ApprovalKind(permission=declared(permission), execute=execute, requirement=requirement)


def approval_request(*, kind: str, payload: dict[str, Any], summary: str, staff: User) -> Approval:
    guarded = KINDS[kind]
    if not staff_may(staff, guarded.permission):
        raise Forbidden("Your roles do not allow asking for this.")
    with transaction.atomic():
        approval = Approval.objects.create(
            kind=kind, summary=summary[:300], payload=payload, requested_by=staff, requested_at=clock.now()
        )
        audit_record(
            actor=Actor.for_user(staff),
            action="approval.requested",
            target_type="approval",
            target_id=approval.public_id,
            requirement=guarded.requirement,
            data={"kind": kind, "summary": approval.summary},
        )
    return approval


def approval_decide(*, approval: Approval, staff: User, approve: bool, note: str = "") -> Approval:
    """The second staff member's decision; approving carries the action out at once."""
    guarded = KINDS[approval.kind]
    if not staff_may(staff, guarded.permission):
        raise Forbidden("Your roles do not allow deciding this.")
    if not approve and not note.strip():
        raise InvalidInput("Say why it is rejected.", field="note")
    with transaction.atomic():
        locked = Approval.objects.select_for_update().select_related("requested_by").get(pk=approval.pk)
        if locked.status != Approval.Status.PENDING:
            raise RuleRefused("This request was decided already.", rule="approval-decided", requirement="TOS-SEC-1")
        if locked.requested_by_id == staff.pk:
            raise Forbidden("A second staff member must decide: you asked for this yourself.")
        result = guarded.execute(locked) if approve else ""
        status = Approval.Status.APPROVED if approve else Approval.Status.REJECTED
        APPROVAL_STATUS.move(
            locked, status, decided_by=staff, decided_at=clock.now(), note=note.strip()[:500], result=result[:100]
        )
        audit_record(
            actor=Actor.for_user(staff),
            action="approval.approved" if approve else "approval.rejected",
            target_type="approval",
            target_id=locked.public_id,
            requirement=guarded.requirement,
            data={
                "kind": locked.kind,
                "summary": locked.summary,
                "requested_by": locked.requested_by.email,
                "decided_by": staff.email,
                "result": result,
                "note": note.strip()[:500],
            },
        )
    approval.refresh_from_db()
    return approval
