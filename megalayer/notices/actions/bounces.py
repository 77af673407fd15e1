"""Bounces (TOS-EMAIL-1): a delivery status notification (RFC 3464) flags the address it failed for.

Our mail carries ``X-Megalayer-Notice``; the DSN quotes the original headers, so the
notice that bounced is found and shown as not delivered in the customer's notice
history. A permanent failure (``Action: failed``, status 5.x.x) sets
``User.email_bounced_at``: the customer is asked to fix the address at the next
sign-in and staff see who cannot be reached. Temporary failures (4.x.x, delayed) change
nothing; the outbox retries on its own.
"""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message

from django.db import transaction

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.notices.choices import NOTICE_STATUS, Status
from megalayer.notices.models import Notice

MAIL = Actor.system("bounce processing")


@dataclass(frozen=True, slots=True)
class Failure:
    recipient: str
    status: str
    diagnostic: str


def _failures(report: Message) -> list[Failure]:
    """Permanent failures of a multipart/report; report-type=delivery-status."""
    found: list[Failure] = []
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is about the message, the rest one per recipient
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip()
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            if action == "failed" and status.startswith("5") and "@" in address:
                diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
                found.append(Failure(address, status, diagnostic.split(";", 1)[-1].strip()[:300]))
    return found


def _notice_id(report: Message) -> str:
    for part in report.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            original: Message | None = None
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                original = payload[0]
            elif isinstance(payload, str):
                original = email.message_from_string(payload, policy=policy.default)
            if original is not None and original.get("X-Megalayer-Notice"):
                return str(original["X-Megalayer-Notice"]).strip()
    return ""


def is_delivery_report(message: Message) -> bool:
    return message.get_content_type() == "multipart/report" and (
        str(message.get_param("report-type") or "").lower() == "delivery-status"
    )


def bounce_process(message: EmailMessage | Message) -> str:
    """Record the permanent failures of one DSN; returns what happened."""

    failures = _failures(message)
    if not failures:
        return "no permanent failure"
    notice_id = _notice_id(message)
    now = clock.now()
    with transaction.atomic():
        for failure in failures:
            if notice_id:
                NOTICE_STATUS.reach(
                    Notice.objects.filter(public_id=notice_id, recipient__iexact=failure.recipient),
                    Status.FAILED,
                    last_error=f"bounced: {failure.status} {failure.diagnostic}"[:2000],
                )
            flagged = User.objects.filter(email__iexact=failure.recipient, email_bounced_at__isnull=True).update(
                email_bounced_at=now
            )
            audit_record(
                actor=MAIL,
                action="email.bounced",
                target_type="email",
                target_id=failure.recipient,
                requirement="TOS-EMAIL-1",
                data={
                    "status": failure.status,
                    "diagnostic": failure.diagnostic,
                    "notice": notice_id,
                    "flagged": flagged,
                },
            )
    return f"bounced: {len(failures)}"


def email_bounce_clear(*, user: object) -> None:
    """The address was re-verified or changed: mail may flow again."""

    if isinstance(user, User) and user.email_bounced_at is not None:
        User.objects.filter(pk=user.pk).update(email_bounced_at=None)
        user.email_bounced_at = None
