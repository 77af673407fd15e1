"""Mail that reaches us: the mail server pipes each message to ``/api/v1/hooks/inbound-mail``
(``contrib/postfix/megalayer-inbound.py``). Delivery reports are bounces; everything else is
offered to the support desk, which accepts only replies to its own tickets."""

from __future__ import annotations

import email
import hashlib
from email import policy
from email.message import EmailMessage

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
            outcome = bounce_process(message) if is_delivery_report(message) else _to_support(message)
            InboundEvent.objects.filter(pk=event.pk).update(outcome=outcome[:64])
    except IntegrityError:
        return "duplicate"
    return outcome


def _to_support(message: EmailMessage) -> str:
    """Replies to tickets go to the support desk, once it exists (issue 6); until then mail is ignored."""
    from importlib import import_module

    try:
        support_mail = import_module("megalayer.support.mail")
    except ImportError:
        return "ignored"
    return str(support_mail.ticket_reply_from_mail(message))
