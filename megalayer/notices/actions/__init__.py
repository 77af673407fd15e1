"""Creating and delivering notices. Creation runs inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from megalayer.accounts.models import Customer
from megalayer.accounts.queries import customers_to_notify_of_terms
from megalayer.core import clock
from megalayer.core.ids import new_public_id
from megalayer.core.outbox import Outbox
from megalayer.core.tasks import enqueue_on_commit
from megalayer.notices.choices import NOTICE_STATUS, REQUIREMENT_OF_KIND, Kind, Status
from megalayer.notices.models import Notice

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STALE_SENDING_AFTER = dt.timedelta(minutes=10)


# The notices outbox (core/outbox.py): back-off 1, 2, 4, 8 … minutes, at most 2 hours; a claim older than
# STALE_SENDING_AFTER lost its sender.
OUTBOX = Outbox(
    NOTICE_STATUS,
    waiting=Status.QUEUED,
    sending=Status.SENDING,
    lease=STALE_SENDING_AFTER,
    first_seconds=60,
    factor=2,
    cap_seconds=7200,
)
retry_delay = OUTBOX.retry_delay


def render_notice(kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text and HTML of a notice from its templates and the shared layout."""
    context = {"site_url": settings.SITE_URL, "requirement": REQUIREMENT_OF_KIND.get(kind, ""), **context}
    subject = " ".join(render_to_string(f"notices/email/{kind}_subject.txt", context).split())
    text = render_to_string(f"notices/email/{kind}.txt", context).strip() + "\n"
    html = render_to_string("notices/email/layout.html", {**context, "subject": subject, "body_text": text})
    return subject, text, html


def notice_create(
    *,
    kind: str,
    recipient: str,
    dedupe_key: str,
    subject: str,
    body_text: str,
    body_html: str,
    customer: Any = None,
    reply_to: str = "",
    requirement: str = "",
) -> Notice:
    """Queue a notice once per ``dedupe_key``; a second call returns the first notice untouched.

    ``requirement``: the clause this notice cites when it is not its kind's usual one (a suspension for
    abuse cites TOS-ABUSE-2, not TOS-EXPIRE-1)."""
    if kind not in Kind.values:
        raise ValueError(f"unknown notice kind {kind!r}: add it to notices.choices.Kind with its requirement")
    now = clock.now()
    try:
        with transaction.atomic():
            notice = Notice.objects.create(
                kind=kind,
                requirement=requirement or REQUIREMENT_OF_KIND.get(kind, ""),
                recipient=recipient,
                customer=customer,
                subject=subject[:255],
                body_text=body_text,
                body_html=body_html,
                dedupe_key=dedupe_key,
                reply_to=reply_to,
                created_at=now,
                next_attempt_at=now,
            )
    except IntegrityError:
        return Notice.objects.get(dedupe_key=dedupe_key)
    from megalayer.notices.tasks import notice_send_task

    enqueue_on_commit(notice_send_task, notice.pk)
    return notice


def notice_account_mail(*, template_prefix: str, email: str, subject: str, body_text: str, body_html: str) -> Notice:
    """An allauth mail (verification, reset): each one is its own notice."""

    customer = Customer.objects.filter(owner__email__iexact=email).first()
    html = body_html or render_to_string(
        "notices/email/layout.html", {"subject": subject, "body_text": body_text, "site_url": settings.SITE_URL}
    )

    return notice_create(
        kind=Kind.ACCOUNT_EMAIL,
        recipient=email,
        customer=customer,
        dedupe_key=f"{template_prefix}:{email}:{new_public_id('m')}",
        subject=subject,
        body_text=body_text,
        body_html=html,
    )


def notices_terms_changed(*, version: Any) -> int:
    """Tell every active customer about a new Terms version (TOS-ACCEPT-2); once per customer."""

    count = 0
    for customer in customers_to_notify_of_terms():
        subject, text, html = render_notice(
            Kind.TERMS_CHANGED, {"version": version, "customer": customer, "name": customer.owner.full_name}
        )
        notice_create(
            kind=Kind.TERMS_CHANGED,
            recipient=customer.owner.email,
            customer=customer,
            dedupe_key=f"terms_changed:v{version.number}:{customer.pk}",
            subject=subject,
            body_text=text,
            body_html=html,
        )
        count += 1
    return count


def _claim(notice_id: int) -> Notice | None:
    """Compare-and-set queued → sending, so one sender at a time holds a notice."""
    return Notice.objects.get(pk=notice_id) if OUTBOX.claim(notice_id) else None


def notice_deliver(*, notice_id: int) -> str:
    """Send one due notice over SMTP; on failure schedule the next attempt with back-off.

    Returns the status the notice ends in ("skipped" if it was not due or
    another sender holds it).
    """
    notice = _claim(notice_id)
    if notice is None:
        return "skipped"
    message = EmailMultiAlternatives(
        subject=notice.subject,
        body=notice.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.recipient],
        reply_to=[notice.reply_to] if notice.reply_to else None,
        headers={
            "Message-ID": f"<{notice.public_id}@megalayer.notices>",
            "X-Megalayer-Notice": notice.public_id,
            "X-Megalayer-Requirement": notice.requirement,
        },
    )
    if notice.body_html:
        message.attach_alternative(notice.body_html, "text/html")
    try:
        message.send(fail_silently=False)
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        return _record_failure(notice, error)
    NOTICE_STATUS.claim(
        Notice.objects.filter(pk=notice.pk),
        sources=[Status.SENDING],
        target=Status.SENT,
        sent_at=clock.now(),
        last_error="",
    )
    logger.info("notice.sent", extra={"notice": notice.public_id, "kind": notice.kind})
    return Status.SENT


def _record_failure(notice: Notice, error: BaseException) -> str:
    status = Status.FAILED if notice.attempts >= MAX_ATTEMPTS else Status.QUEUED
    NOTICE_STATUS.claim(
        Notice.objects.filter(pk=notice.pk),
        sources=[Status.SENDING],
        target=status,
        last_error=f"{type(error).__name__}: {error}"[:2000],
        next_attempt_at=clock.now() + retry_delay(notice.attempts),
    )
    logger.warning("notice.failed", extra={"notice": notice.public_id, "attempts": notice.attempts})
    return status


def notices_deliver_due() -> dict[str, int]:
    """The periodic sweep: release stale claims (a sender killed mid-send), then deliver every due notice."""
    results: dict[str, int] = {"released": OUTBOX.release_stale()}
    for notice_id in OUTBOX.due_ids():
        outcome = notice_deliver(notice_id=notice_id)
        results[outcome] = results.get(outcome, 0) + 1
    return results


def notice_for_customer(
    *,
    kind: str,
    customer: Any,
    dedupe_key: str,
    context: dict[str, Any],
    reply_to: str = "",
    requirement: str = "",
) -> Notice:
    subject, text, html = render_notice(
        kind, {"customer": customer, "name": customer.owner.full_name, "requirement": requirement, **context}
    )
    return notice_create(
        requirement=requirement,
        reply_to=reply_to,
        kind=kind,
        recipient=customer.owner.email,
        customer=customer,
        dedupe_key=dedupe_key,
        subject=subject,
        body_text=text,
        body_html=html,
    )


def notice_for_staff(*, kind: str, dedupe_key: str, context: dict[str, Any], recipient: str = "") -> Notice:
    """A notice to staff: to ``recipient`` or, by default, the staff alert address."""
    subject, text, html = render_notice(kind, context)
    return notice_create(
        kind=kind,
        recipient=recipient or settings.MEGALAYER_STAFF_ALERT_EMAIL,
        dedupe_key=dedupe_key,
        subject=subject,
        body_text=text,
        body_html=html,
    )


def notice_invoice_issued(*, invoice: Any) -> Notice:
    return notice_for_customer(
        kind=Kind.INVOICE_ISSUED,
        customer=invoice.customer,
        dedupe_key=f"invoice_issued:{invoice.public_id}",
        context={"invoice": invoice},
    )


def notice_invoice_paid(*, invoice: Any) -> Notice:
    return notice_for_customer(
        kind=Kind.PAYMENT_RECEIPT,
        customer=invoice.customer,
        dedupe_key=f"invoice_paid:{invoice.public_id}",
        context={"invoice": invoice},
    )


def notice_refund_issued(*, refund: Any) -> Notice:
    return notice_for_customer(
        kind=Kind.REFUND_ISSUED,
        customer=refund.invoice.customer,
        dedupe_key=f"refund:{refund.public_id}",
        context={"refund": refund, "invoice": refund.invoice},
    )


@dataclass(frozen=True, slots=True)
class PendingNotice:
    kind: str
    customer: Any
    dedupe_key: str
    context: dict[str, Any]
    requirement: str = ""


def notices_create_many(notices: list[PendingNotice]) -> int:
    """Queue many customer notices with one insert; keys already present are skipped (never sent twice)."""
    if not notices:
        return 0
    now = clock.now()
    rows = []
    for pending in notices:
        customer = pending.customer
        subject, text, html = render_notice(
            pending.kind,
            {
                "customer": customer,
                "name": customer.owner.full_name,
                "requirement": pending.requirement,
                **pending.context,
            },
        )
        rows.append(
            Notice(
                kind=pending.kind,
                requirement=pending.requirement or REQUIREMENT_OF_KIND.get(pending.kind, ""),
                recipient=customer.owner.email,
                customer=customer,
                subject=subject[:255],
                body_text=text,
                body_html=html,
                dedupe_key=pending.dedupe_key,
                created_at=now,
                next_attempt_at=now,
            )
        )
    Notice.objects.bulk_create(rows, ignore_conflicts=True)
    from megalayer.notices.tasks import notices_deliver_due_task

    enqueue_on_commit(notices_deliver_due_task)
    return len(rows)
