"""Mail that reaches us: the mail server pipes each message to ``/api/v1/hooks/inbound-mail``
(``contrib/postfix/megalayer-inbound.py``, which also passes the envelope recipient).

Nothing is lost (issue 16). Each message is first sorted without acting on it: a delivery report is a bounce;
otherwise the desks' mailboxes (``mailboxes``, filled by the abuse and support apps) say whether it is theirs,
looking at every recipient the message shows (envelope, Delivered-To, X-Original-To, To, Cc) and at its
content (an ARF or X-ARF report is a complaint whatever it was sent to). The raw message is then stored,
content-addressed, with where it was sorted, in one transaction; only after that does its desk act on it. A
desk that fails leaves the message stored with the error; a message no desk takes waits as ``unsorted`` in the
back office (``/backoffice/inbound-mail/``) for staff to file or dismiss.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from django.db import IntegrityError, transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock, mailparts
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.hooks import Hook
from megalayer.notices.actions.bounces import bounce_process, bounce_read
from megalayer.notices.models import InboundMessage

MAX_BYTES = 25 * 1024 * 1024
logger = logging.getLogger(__name__)
Kind = InboundMessage.Kind


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the mail server handed it over: its bytes, its parse and its envelope recipients."""

    raw: bytes
    message: EmailMessage
    envelope: tuple[str, ...] = ()

    def recipients(self) -> list[str]:
        """Every address it was delivered to: the envelope first, then what its headers say."""
        envelope = [parseaddr(a)[1].lower() or a.strip().lower() for a in self.envelope]
        return list(dict.fromkeys([*(a for a in envelope if a), *mailparts.recipient_headers(self.message)]))

    def addressed_to(self, addresses: Iterable[str]) -> bool:
        wanted = {a.lower() for a in addresses}
        return any(found in wanted for found in self.recipients())


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A desk's claim on a message: its kind, and what the desk does with it (returns what was done)."""

    kind: str
    take: Callable[[Delivery], str]


mailboxes: Hook[[Delivery], Mailbox | None] = Hook("notices.mailboxes")
"""A desk's mailbox: given a delivery, answer the desk's ``Mailbox`` if the message is the desk's, else
``None``; answering must not act (``megalayer mail explain`` sorts without storing). Filled by the abuse and
support apps, in the order of INSTALLED_APPS (abuse first: a complaint quoting a ticket reference is still a
complaint)."""


def _bounce(delivery: Delivery) -> str:
    return bounce_process(delivery.message)


def sort_mail(delivery: Delivery) -> tuple[str, Mailbox | None]:
    """Where a message belongs, without acting on it."""
    if bounce_read(delivery.message) is not None:
        return Kind.BOUNCE, Mailbox(Kind.BOUNCE, _bounce)
    mailbox = mailboxes.first(delivery)
    if mailbox is not None:
        return mailbox.kind, mailbox
    return Kind.UNSORTED, None


def delivery_of(raw: bytes, envelope: Iterable[str] = ()) -> Delivery:
    if not raw.strip():
        raise InvalidInput("The message is empty.", field="body")
    if len(raw) > MAX_BYTES:
        raise InvalidInput("The message is larger than 25 MB.", field="body")
    return Delivery(raw, mailparts.load(raw), tuple(a for a in envelope if a.strip()))


def inbound_mail(raw: bytes, envelope: Iterable[str] = ()) -> str:
    """Store one piped message, then let its desk act on it; returns what was done."""
    delivery = delivery_of(raw, envelope)
    kind, mailbox = sort_mail(delivery)
    message = delivery.message
    try:
        with transaction.atomic():
            stored = InboundMessage.objects.create(
                sha256=hashlib.sha256(raw).hexdigest(),
                raw=raw,
                envelope_recipients=", ".join(delivery.envelope)[:1000],
                received_at=clock.now(),
                message_id=mailparts.header(message, "Message-ID")[:255],
                sender=mailparts.header(message, "From")[:255],
                subject=mailparts.header(message, "Subject")[:255],
                kind=kind,
                outcome="" if mailbox else "unsorted: waiting for staff",
            )
    except IntegrityError:
        return "duplicate"
    if mailbox is None:
        return stored.outcome
    return _hand_over(stored, mailbox, delivery)


def _hand_over(stored: InboundMessage, mailbox: Mailbox, delivery: Delivery) -> str:
    try:
        with transaction.atomic():
            outcome = mailbox.take(delivery)
            InboundMessage.objects.filter(pk=stored.pk).update(outcome=outcome[:200], handled_at=clock.now())
    # Broad on purpose: whatever a desk raises, the message is stored already and the failure is recorded on
    # it (and logged with its traceback) for staff to file again; nothing is swallowed silently.
    except Exception as error:
        logger.exception("inbound_mail.desk_failed", extra={"message": stored.public_id, "kind": mailbox.kind})
        outcome = f"failed: {type(error).__name__}"
        InboundMessage.objects.filter(pk=stored.pk).update(outcome=outcome, error=f"{error}"[:2000])
    return outcome


def inbound_message_file(*, stored: InboundMessage, kind: str, take: Callable[[Delivery], str], actor: Actor) -> str:
    """Staff file a stored message (unsorted, or whose desk failed) with a desk, which then acts on it."""
    if stored.handled_at is not None:
        raise RuleRefused("This message was handled already.", rule="mail-handled", requirement="TOS-ABUSE-1")
    with transaction.atomic():
        InboundMessage.objects.filter(pk=stored.pk).update(kind=kind, handled_by=actor.label[:255])
        _audit(actor, "mail.filed", stored, {"kind": kind})
    raw = bytes(stored.raw)
    envelope = [a.strip() for a in stored.envelope_recipients.split(",") if a.strip()]
    return _hand_over(stored, Mailbox(kind, take), delivery_of(raw, envelope))


def inbound_message_dismiss(*, stored: InboundMessage, actor: Actor, note: str) -> None:
    """Staff looked at an unsorted message and it needs nothing (kept, marked handled, with why)."""
    if stored.handled_at is not None:
        raise RuleRefused("This message was handled already.", rule="mail-handled", requirement="TOS-ABUSE-1")
    if not note.strip():
        raise InvalidInput("Say why the message needs nothing.", field="note")
    with transaction.atomic():
        InboundMessage.objects.filter(pk=stored.pk, handled_at__isnull=True).update(
            handled_at=clock.now(), handled_by=actor.label[:255], outcome=f"dismissed: {note.strip()}"[:200]
        )
        _audit(actor, "mail.dismissed", stored, {"note": note.strip()[:500]})


def _audit(actor: Actor, action: str, stored: InboundMessage, data: dict[str, str]) -> None:
    audit_record(
        actor=actor,
        action=action,
        target_type="inbound_message",
        target_id=stored.public_id,
        requirement="TOS-ABUSE-1",
        data={**data, "sha256": stored.sha256},
    )


def recipients(message: EmailMessage) -> list[str]:
    """Every address the message says it was delivered to (delivery headers, To and Cc)."""
    return mailparts.recipient_headers(message)
