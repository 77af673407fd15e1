"""Every write of the support desk (TOS-TICKET-1): open, reply (web, e-mail, API), internal notes,
status, priority and assignee, close and reopen, attachments, idle auto-close.

Each reply is e-mailed to the other side through the notices outbox: staff replies to
the customer (with a Reply-To address that carries the ticket's signed reference, so
the customer can answer by e-mail), customer messages to the department's staff.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import mimetypes
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import Forbidden, InvalidInput, RuleRefused
from megalayer.core.events import event_emit
from megalayer.core.people import ERASED
from megalayer.core.uploads import base_name, upload_check
from megalayer.notices.actions import notice_for_customer, notice_for_staff
from megalayer.support.choices import TICKET_STATUS, Priority, Status, Via
from megalayer.support.models import Attachment, Department, Ticket, TicketMessage
from megalayer.terms.queries import policy_at

MAX_FILES = 5


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    content: bytes


def reference_signature(public_id: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"ticket:{public_id}".encode(), hashlib.sha256).hexdigest()[:12]


def reply_address(ticket: Ticket) -> str:
    """support+tkt_….<signature>@domain: a reply to it is threaded into this ticket, and only this one."""
    local, _, domain = settings.MEGALAYER_SUPPORT_ADDRESS.partition("@")
    return f"{local}+{ticket.public_id}.{reference_signature(ticket.public_id)}@{domain}"


def _check_uploads(uploads: list[Upload]) -> None:
    if len(uploads) > MAX_FILES:
        raise InvalidInput(f"Attach at most {MAX_FILES} files.", field="attachments")
    for upload in uploads:
        upload_check(upload.name, upload.content, field="attachments")


def _attach(message: TicketMessage, uploads: list[Upload]) -> None:
    for upload in uploads:
        name = base_name(upload.name)
        attachment = Attachment(
            message=message,
            name=name,
            content_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
            size=len(upload.content),
            sha256=hashlib.sha256(upload.content).hexdigest(),
        )
        # Stored under a random name: the customer's file name never becomes a path.
        attachment.file.save(f"{attachment.public_id}.bin", ContentFile(upload.content), save=False)
        attachment.save()


def _clean_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise InvalidInput("Write a message.", field="body")
    if len(text) > 100_000:
        raise InvalidInput("The message is longer than 100,000 characters.", field="body")
    return text


def ticket_open(
    *,
    customer: Any,
    department: Department | None,
    subject: str,
    body: str,
    user: User,
    service: Any = None,
    uploads: list[Upload] | None = None,
    via: str = Via.WEB,
) -> Ticket:
    uploads = uploads or []
    if department is None:
        raise InvalidInput("Choose a department.", field="department")
    if not subject.strip():
        raise InvalidInput("Give the ticket a subject.", field="subject")
    if service is not None and service.customer_id != customer.pk:
        raise InvalidInput("No such service.", field="service")
    text = _clean_body(body)
    _check_uploads(uploads)
    now = clock.now()
    with transaction.atomic():
        ticket = Ticket.objects.create(
            customer=customer,
            department=department,
            service=service,
            subject=subject.strip()[:200],
            created_at=now,
            updated_at=now,
        )
        message = TicketMessage.objects.create(
            ticket=ticket, author=user, author_email=getattr(user, "email", ""), body=text, via=via, created_at=now
        )
        _attach(message, uploads)
        _tell_staff(ticket, message)
        _tell_customer(ticket, message, kind="ticket_opened")
        audit_record(
            actor=Actor.for_user(user) if user is not None else Actor.system(via),
            action="ticket.opened",
            target_type="ticket",
            target_id=ticket.public_id,
            requirement="TOS-TICKET-1",
            data={"department": department.code, "service": service.public_id if service else None},
        )
    return ticket


def ticket_reply(
    *,
    ticket: Ticket,
    user: User | None,
    body: str,
    uploads: list[Upload] | None = None,
    via: str = Via.WEB,
    as_staff: bool = False,
    internal: bool = False,
    author_email: str = "",
    mail_message_id: str = "",
) -> TicketMessage:
    """A reply by the customer (or their contact) or by staff; staff may write an internal note instead."""

    uploads = uploads or []
    if as_staff and (user is None or not user.is_staff):
        raise Forbidden("Only staff answer as staff.")
    if internal and not as_staff:
        raise InvalidInput("Only staff write internal notes.", field="internal")
    from_staff = as_staff
    text = _clean_body(body)
    _check_uploads(uploads)
    now = clock.now()
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        # A mailed reply to a closed ticket reopens it; on the web the customer reopens it first.
        if ticket.status == Status.CLOSED and not from_staff and via != Via.EMAIL:
            raise RuleRefused(
                "This ticket is closed; reopen it to reply.", rule="ticket-closed", requirement="TOS-TICKET-1"
            )
        message = TicketMessage.objects.create(
            ticket=ticket,
            author=user,
            author_email=author_email or getattr(user, "email", ""),
            from_staff=from_staff,
            internal=internal,
            body=text,
            via=via,
            mail_message_id=mail_message_id[:255],
            created_at=now,
        )
        _attach(message, uploads)
        if internal:
            Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
        elif from_staff:
            _ticket_move(ticket, Status.ANSWERED, updated_at=now, answered_at=now, closed_at=None)
            _tell_customer(ticket, message, kind="ticket_reply")
            event_emit(
                "ticket.replied",
                subject_id=ticket.public_id,
                customer_id=ticket.customer.public_id,
                data={"message": message.pk, "subject": ticket.subject},
            )
        else:
            _ticket_move(ticket, Status.CUSTOMER_REPLY, updated_at=now, closed_at=None)
            _tell_staff(ticket, message)
    return message


def _ticket_move(ticket: Ticket, target: str, **also: Any) -> None:
    """A reply's move: to ``target`` from whatever the ticket is now (staying put when it already is there)."""
    rows = Ticket.objects.filter(pk=ticket.pk)
    if not TICKET_STATUS.reach(rows, target, **also):
        rows.filter(status=target).update(**also)


def ticket_set(
    *, ticket: Ticket, staff: User, status: str | None = None, priority: str | None = None, assignee: Any = "keep"
) -> Ticket:
    fields: dict[str, Any] = {"updated_at": clock.now()}
    if status is not None:
        if status not in Status.values:
            raise InvalidInput("Unknown status.", field="status")
        if status != ticket.status:
            TICKET_STATUS.check(ticket.status, status)
        fields["status"] = status
        fields["closed_at"] = clock.now() if status == Status.CLOSED else None
    if priority is not None:
        if priority not in Priority.values:
            raise InvalidInput("Unknown priority.", field="priority")
        fields["priority"] = priority
    if assignee != "keep":
        if assignee is not None and not assignee.is_staff:
            raise InvalidInput("Assign a staff member.", field="assignee")
        fields["assignee"] = assignee
    with transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(**fields)
        audit_record(
            actor=Actor.for_user(staff),
            action="ticket.changed",
            target_type="ticket",
            target_id=ticket.public_id,
            requirement="TOS-TICKET-1",
            data={k: (str(v) if v is not None else None) for k, v in fields.items() if k != "updated_at"},
        )
    ticket.refresh_from_db()
    return ticket


def ticket_close(*, ticket: Ticket, user: User) -> Ticket:
    now = clock.now()
    TICKET_STATUS.reach(Ticket.objects.filter(pk=ticket.pk), Status.CLOSED, closed_at=now, updated_at=now)
    ticket.refresh_from_db()
    return ticket


def ticket_reopen(*, ticket: Ticket, user: User) -> Ticket:
    now = clock.now()
    TICKET_STATUS.claim(
        Ticket.objects.filter(pk=ticket.pk), sources=[Status.CLOSED], target=Status.OPEN, closed_at=None, updated_at=now
    )
    ticket.refresh_from_db()
    return ticket


def tickets_auto_close() -> int:
    """Answered tickets the customer left idle for ``support.auto_close_answered_days`` close, with a notice."""

    now = clock.now()
    days = policy_at(now).support.auto_close_answered_days
    idle = list(Ticket.objects.filter(status=Status.ANSWERED, answered_at__lte=now - dt.timedelta(days=days)))
    closed = 0
    for ticket in idle:
        with transaction.atomic():
            if not TICKET_STATUS.claim(
                Ticket.objects.filter(pk=ticket.pk),
                sources=[Status.ANSWERED],
                target=Status.CLOSED,
                closed_at=now,
                updated_at=now,
            ):
                continue
            message = TicketMessage.objects.create(
                ticket=ticket,
                body=f"Closed automatically: no reply for {days} days after our answer. Reply to reopen it.",
                via=Via.SYSTEM,
                from_staff=True,
                created_at=now,
            )
            _tell_customer(ticket, message, kind="ticket_closed")
            closed += 1
    return closed


# Mail ------------------------------------------------------------------------------------------------------------


def _tell_customer(ticket: Ticket, message: TicketMessage, *, kind: str) -> None:

    notice_for_customer(
        kind=kind,
        customer=ticket.customer,
        dedupe_key=f"{kind}:{ticket.public_id}:{message.pk}",
        context={"ticket": ticket, "message": message},
        reply_to=reply_address(ticket),
    )


def _tell_staff(ticket: Ticket, message: TicketMessage) -> None:

    recipients = [u.email for u in ticket.department.members.filter(is_active=True, is_staff=True)]
    if ticket.assignee is not None and ticket.assignee.email not in recipients:
        recipients = [ticket.assignee.email]
    for address in recipients or [settings.MEGALAYER_STAFF_ALERT_EMAIL]:
        notice_for_staff(
            kind="ticket_staff",
            recipient=address,
            dedupe_key=f"ticket_staff:{ticket.public_id}:{message.pk}:{address}",
            context={"ticket": ticket, "message": message},
        )


def support_erase(*, customer: Customer) -> tuple[dict[str, int], list[str]]:
    """Erase the customer's tickets' content (TOS-PRIVACY-1), called by ``privacy``.

    Tickets and messages stay as rows (numbers and references hold); their text goes, attachments go.
    Returns the counts and the stored files to delete after the commit (a rollback must not lose them).
    """
    attachments = Attachment.objects.filter(message__ticket__customer=customer)
    files = [a.file.name for a in attachments if a.file and a.file.name]
    erased = {
        "ticket_attachments": attachments.delete()[0],
        "ticket_messages": TicketMessage.objects.filter(ticket__customer=customer).update(
            body=ERASED, author_email="", mail_message_id=""
        ),
        "tickets": Ticket.objects.filter(customer=customer).update(subject=ERASED),
    }
    return erased, files
