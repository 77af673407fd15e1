"""Customer replies by e-mail (TOS-TICKET-1): the mail server pipes mail for the support address to the
inbound-mail hook; a reply is threaded into its ticket when it names the ticket's signed reference and
comes from one of the ticket's contacts. Quoted text is stripped and attachments are kept."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import parseaddr

from email_reply_parser import EmailReplyParser

from megalayer.core.errors import DomainError
from megalayer.notices.actions.inbound import Delivery, Mailbox, recipients
from megalayer.support.actions import Upload, reference_signature, ticket_reply
from megalayer.support.choices import Via
from megalayer.support.models import Ticket

REFERENCE = re.compile(r"\+(tkt_[0-9a-z]{16})\.([0-9a-f]{12})@", re.IGNORECASE)


def _reference(message: EmailMessage, addresses: list[str] | None = None) -> tuple[str, str] | None:
    for address in recipients(message) if addresses is None else addresses:
        found = REFERENCE.search(address)
        if found:
            return found.group(1).lower(), found.group(2).lower()
    return None


def _contacts(ticket: Ticket) -> set[str]:
    """Who may write to a ticket: the account's owner and its contacts."""
    addresses = {ticket.customer.owner.email.lower()}
    contacts = getattr(ticket.customer, "contacts", None)
    if contacts is not None:
        addresses |= {c.email.lower() for c in contacts.all() if getattr(c, "email", "")}
    return addresses


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_type() == "text/html":
        content = re.sub(r"<[^>]+>", " ", content)
    return str(content)


def strip_quote(text: str) -> str:
    """The new part of a reply: quoted lines ("> …"), "On … wrote:" headers and signatures removed."""
    return str(EmailReplyParser.parse_reply(text.replace("\r\n", "\n"))).strip()


def support_mailbox(delivery: Delivery) -> Mailbox | None:
    """The support desk's mailbox (``notices.inbound.mailboxes``): it takes replies that name a ticket."""
    if _reference(delivery.message, delivery.recipients()) is not None:
        return Mailbox("reply", lambda d: ticket_reply_from_mail(d.message, d.recipients()))
    return None


def ticket_reply_from_mail(message: EmailMessage, addresses: list[str] | None = None) -> str:
    reference = _reference(message, addresses)
    if reference is None:
        return "refused: no ticket reference"
    public_id, signature = reference
    if signature != reference_signature(public_id):
        return "refused: bad reference"
    ticket = Ticket.objects.select_related("customer__owner").filter(public_id=public_id).first()
    if ticket is None:
        return "refused: no such ticket"
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    if sender not in _contacts(ticket):
        return "refused: not a contact of the ticket"
    uploads = []
    for part in message.iter_attachments():
        content = part.get_payload(decode=True)
        if part.get_filename() and isinstance(content, bytes):
            uploads.append(Upload(name=str(part.get_filename()), content=content))
    try:
        ticket_reply(
            ticket=ticket,
            user=ticket.customer.owner if sender == ticket.customer.owner.email.lower() else None,
            author_email=sender,
            body=strip_quote(_text(message)) or "(empty reply)",
            uploads=uploads,
            via=Via.EMAIL,
            mail_message_id=str(message.get("Message-ID", "")),
        )
    except DomainError as error:
        return f"refused: {error.detail}"[:64]
    return "ticket reply"
