"""Mail that reaches us: the mail server pipes each message to ``/api/v1/hooks/inbound-mail``
(``contrib/postfix/megalayer-inbound.py``). Delivery reports are bounces; everything else is
offered to the support desk, which accepts only replies to its own tickets."""

from __future__ import annotations

import email
import hashlib
from email import policy
from email.message import EmailMessage

from django.conf import settings
from django.db import IntegrityError, transaction

from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.notices.bounces import bounce_process, is_delivery_report
from megalayer.notices.models import InboundEvent

MAX_BYTES = 25 * 1024 * 1024


def inbound_mail(raw: bytes) -> str:
    if not raw.strip():
        raise InvalidInput("The message is empty.", field="body")
    if len(raw) > MAX_BYTES:
        raise InvalidInput("The message is larger than 25 MB.", field="body")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    # One message, once: its Message-ID (or, without one, its bytes) is the event id.
    event_id = str(message.get("Message-ID") or "").strip() or hashlib.sha256(raw).hexdigest()
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(source="mail", event_id=event_id[:128], received_at=clock.now())
            if is_delivery_report(message):
                outcome = bounce_process(message)
            elif _addressed_to(message, settings.MEGALAYER_ABUSE_ADDRESS):
                outcome = _to_abuse_desk(raw)
            else:
                outcome = _to_support(message)
            InboundEvent.objects.filter(pk=event.pk).update(outcome=outcome[:64])
    except IntegrityError:
        return "duplicate"
    return outcome


def recipients(message: EmailMessage) -> list[str]:
    """Every address the message was delivered to (To, Cc and the mail server's delivery headers)."""
    from email.utils import getaddresses

    # Empty headers are left out: Python's strict getaddresses() gives up on the whole list otherwise.
    headers = [str(message[h]) for h in ("To", "Cc", "Delivered-To", "X-Original-To") if message.get(h)]
    return [found for _, found in getaddresses(headers) if found]


def _addressed_to(message: EmailMessage, address: str) -> bool:
    return any(found.lower() == address.lower() for found in recipients(message))


def _to_abuse_desk(raw: bytes) -> str:
    """Complaints to the abuse mailbox: stored unchanged, then parsed (TOS-ABUSE-1)."""
    from megalayer.abuse.actions import report_receive
    from megalayer.abuse.choices import Source

    report, _ = report_receive(raw=raw, source=Source.MAIL)
    return f"abuse report {report.public_id}"


def _to_support(message: EmailMessage) -> str:
    """Replies to tickets go to the support desk, once it exists (issue 6); until then mail is ignored."""
    from importlib import import_module

    try:
        support_mail = import_module("megalayer.support.mail")
    except ImportError:
        return "ignored"
    return str(support_mail.ticket_reply_from_mail(message))
