"""Mail that reaches us: the mail server pipes each message to ``/api/v1/hooks/inbound-mail``
(``contrib/postfix/megalayer-inbound.py``). Delivery reports are bounces; everything else is offered to the
mailboxes the desks connect (``mailboxes``: the abuse desk takes complaints, the support desk replies to its
own tickets); a message no mailbox takes is recorded as ignored."""

from __future__ import annotations

import email
import hashlib
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses

from django.db import IntegrityError, transaction

from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.core.hooks import Hook
from megalayer.notices.actions.bounces import bounce_process, is_delivery_report
from megalayer.notices.models import InboundEvent

MAX_BYTES = 25 * 1024 * 1024

mailboxes: Hook[[bytes, EmailMessage], str | None] = Hook("notices.mailboxes")
"""A desk's mailbox: given the raw message and its parse, take it (store it, act) and say what was done, or
answer ``None`` to leave it to the next mailbox. Filled by the abuse and support apps."""


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
            else:
                outcome = mailboxes.first(raw, message) or "ignored"
            InboundEvent.objects.filter(pk=event.pk).update(outcome=outcome[:64])
    except IntegrityError:
        return "duplicate"
    return outcome


def recipients(message: EmailMessage) -> list[str]:
    """Every address the message was delivered to (To, Cc and the mail server's delivery headers)."""
    # Empty headers are left out: Python's strict getaddresses() gives up on the whole list otherwise.
    headers = [str(message[h]) for h in ("To", "Cc", "Delivered-To", "X-Original-To") if message.get(h)]
    return [found for _, found in getaddresses(headers) if found]


def addressed_to(message: EmailMessage, address: str) -> bool:
    return any(found.lower() == address.lower() for found in recipients(message))
