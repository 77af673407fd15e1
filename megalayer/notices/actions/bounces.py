"""Bounces (TOS-EMAIL-1): a delivery failure report flags the address it failed for.

Reports come as RFC 3464 delivery status notifications or in one of the many older vendor formats (Exim,
qmail, Yahoo, Microsoft, …), read by the detectors of GNU Mailman's ``flufl.bounce``, and as prose that
neither knows, read for ``X-Failed-Recipients``, the addresses named near the failure and the quoted
original's recipient. Hard (permanent) and soft (temporary) come from the status code near the address,
else from the wording.

Our mail carries ``X-Megalayer-Notice``; the DSN quotes the original headers, so the
notice that bounced is found and shown as not delivered in the customer's notice
history. A permanent failure (``Action: failed``, status 5.x.x) sets
``User.email_bounced_at``: the customer is asked to fix the address at the next
sign-in and staff see who cannot be reached. Temporary failures (4.x.x, delayed) change
nothing; the outbox retries on its own.
"""

from __future__ import annotations

import email
import json
import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message

from django.db import transaction

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock, mailparts
from megalayer.notices.choices import NOTICE_STATUS, Status
from megalayer.notices.models import Notice

MAIL = Actor.system("bounce processing")
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Failure:
    recipient: str
    status: str
    diagnostic: str
    hard: bool = True


@dataclass(frozen=True, slots=True)
class BounceReading:
    """What a delivery failure report says: its format and one failure per recipient."""

    format: str  # "dsn" (RFC 3464), a vendor detector's name ("exim", "qmail", …), or "text"
    failures: tuple[Failure, ...]

    @property
    def hard(self) -> list[Failure]:
        return [f for f in self.failures if f.hard]


ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
SMTP_CODE = re.compile(r"(?<![\d.-])([245])(\d\d)(?=[\s-])")
ADDRESS = re.compile(r"[A-Za-z0-9._%+=/'!#$&*?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
HARD_WORDS = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient)|does not exist|doesn't exist|not found|"
    r"invalid (?:recipient|mailbox|address)|address rejected|mailbox unavailable|disabled|permanent|"
    r"rejected|undeliverable|not accepted|quota exceeded|over quota|mailbox (?:is )?full|no mailbox",
    re.I,
)
SOFT_WORDS = re.compile(r"temporar|delay|deferred|will (?:retry|be retried)|try again later|still trying", re.I)
BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery|mail administrator|bounce|mdaemon", re.I)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|deliver(?:y|ed)? (?:status|fail|problem|notification|report)|returned mail|failure notice|"
    r"mail delivery|could not be delivered|delivery has failed|not delivered|rejected|nondeliverable|"
    r"delivery failure|mail system error|undelivered|mail failed|return(?:ed|ing) to sender|errors from|"
    r"failed delivery|delivery incomplete|non.?delivery",
    re.I,
)
# Where a report starts quoting the original message: addresses below it are the original's, not failures.
QUOTE_START = re.compile(
    r"^\s*(?:-+\s*(?:original message|this is a copy|below this line|message headers|returned message|"
    r"undelivered message|the header of the original)|Received:\s|Message-Id:|Return-Path:|"
    r"Below is a copy|Message headers follow|Original message (?:follows|headers))",
    re.I,
)
TEXT_RECIPIENT = re.compile(r"^\s*(?:Final|Original)-Recipient:\s*(.+)$", re.I | re.M)
ROBOTS = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|maildaemon|noreply|no-reply|root)@", re.I)


def normalise_recipient(value: str) -> str:
    """``rfc822; <@route.example:User@Example.com>`` → ``user@example.com``; "" when it is no address."""
    text = value.strip()
    if ";" in text:
        text = text.split(";", 1)[1]
    text = text.strip().strip("<>").strip()
    if text.startswith("@") and ":" in text:  # a source route (RFC 5321 4.1.2): the mailbox follows the colon
        text = text.rsplit(":", 1)[1]
    text = text.strip().strip("<>\"'").lower()
    return text if ADDRESS.fullmatch(text) else ""


def _status_of(text: str) -> tuple[str, bool | None]:
    """The first enhanced status code (or SMTP reply code) in ``text``, and whether it is permanent."""
    enhanced = ENHANCED.search(text)
    if enhanced:
        return enhanced.group(0), enhanced.group(1) == "5"
    code = SMTP_CODE.search(text)
    if code and code.group(1) in "45":
        return code.group(0), code.group(1) == "5"
    return "", None


def _hard_by_words(text: str, default: bool) -> bool:
    if SOFT_WORDS.search(text) and not HARD_WORDS.search(text):
        return False
    if HARD_WORDS.search(text):
        return True
    return default


def _dsn(report: Message) -> list[Failure]:
    """RFC 3464: every per-recipient block of a message/delivery-status part that failed or was delayed."""
    found: list[Failure] = []
    for part in mailparts.walk(report):
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks: list[Message]
        if isinstance(payload, list):
            blocks = [b for b in payload if isinstance(b, Message)]
        else:  # not parsed into blocks (an unusual transfer encoding): split it ourselves
            text = mailparts.part_text(part)
            blocks = [email.message_from_string(b) for b in re.split(r"\r?\n\s*\r?\n", text) if b.strip()]
        for block in blocks:
            recipient = mailparts.header(block, "Final-Recipient") or mailparts.header(block, "Original-Recipient")
            address = normalise_recipient(recipient)
            action = mailparts.header(block, "Action").lower()
            if not address or action not in ("failed", "delayed", ""):
                continue
            status = mailparts.header(block, "Status")
            diagnostic = mailparts.header(block, "Diagnostic-Code").split(";", 1)[-1].strip()
            if not status:
                status = _status_of(diagnostic)[0]
            hard = action != "delayed" and (status.startswith("5") or (not status and action == "failed"))
            found.append(Failure(address, status, diagnostic[:300], hard))
    return found


def _vendor(report: Message) -> tuple[str, list[Failure]]:
    """The detectors of GNU Mailman's ``flufl.bounce`` for the many formats that are not RFC 3464."""
    try:
        from flufl.bounce._scan import _DETECTORS  # the ordered detector list behind all_failures()
    except ImportError:  # pragma: no cover - the dependency is declared; a broken install falls back to text
        return "", []
    for detector in _DETECTORS:
        try:
            temporary, permanent = detector().process(report)
        except mailparts.MALFORMED:  # one detector tripping on an odd message must not stop the others
            logger.debug("bounce detector %s failed", detector.__name__, exc_info=True)
            continue
        if not (temporary or permanent):
            continue
        text = mailparts.body_text(report, include_attached=False)
        failures = []
        for raw_address, flagged_permanent in [*((a, True) for a in permanent), *((a, False) for a in temporary)]:
            address = normalise_recipient(
                raw_address.decode("utf-8", "replace") if isinstance(raw_address, bytes) else str(raw_address)
            )
            if not address:
                continue
            context = _context(text, address)
            status, permanent_code = _status_of(context)
            hard = permanent_code if permanent_code is not None else _hard_by_words(context, flagged_permanent)
            failures.append(Failure(address, status, " ".join(context.split())[:300], hard))
        if failures:
            return detector.__name__.lower(), failures
    return "", []


def _context(text: str, address: str) -> str:
    """The text around the first mention of ``address``: where its status and reason are written."""
    at = text.lower().find(address)
    if at < 0:
        return text[:600]
    return text[max(0, at - 200) : at + 400]


def _ses(report: Message) -> list[Failure]:
    """An Amazon SES bounce notification (JSON, ``notificationType: Bounce``) in the body."""
    text = mailparts.body_text(report).strip()
    start = text.find("{")
    if start < 0 or '"notificationType"' not in text:
        return []
    try:
        document, _ = json.JSONDecoder(strict=False).raw_decode(text[start:])
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    kind = document.get("notificationType")
    if kind in ("Complaint", "Delivery"):
        # A complaint (the recipient marked our mail as spam) or a delivery confirmation: reported with the
        # bounces, soft, and no reason to stop mailing the address.
        detail = document.get(kind.lower())
        field = "complainedRecipients" if kind == "Complaint" else "recipients"
        listed = detail.get(field) or [] if isinstance(detail, dict) else []
        addresses = [normalise_recipient(str(r.get("emailAddress", r) if isinstance(r, dict) else r)) for r in listed]
        status = "complaint" if kind == "Complaint" else "2.0.0"
        return [Failure(a, status, f"SES {kind.lower()} notification", False) for a in addresses if a]
    bounce = document.get("bounce")
    if not isinstance(bounce, dict) or document.get("notificationType") != "Bounce":
        return []
    permanent = str(bounce.get("bounceType", "")).lower() == "permanent"
    failures = []
    for item in bounce.get("bouncedRecipients") or []:
        if not isinstance(item, dict):
            continue
        address = normalise_recipient(str(item.get("emailAddress", "")))
        if address:
            status = str(item.get("status", ""))
            hard = status.startswith("5") if status else permanent
            failures.append(Failure(address, status, str(item.get("diagnosticCode", ""))[:300], hard))
    return failures


def _looks_like_bounce(report: Message) -> bool:
    """Sent by a mail system (a daemon's address, or the null return path of RFC 5321 4.5.5) and saying a
    delivery failed. Both are needed: a customer who writes "my mail was rejected" is not a bounce."""
    sender = mailparts.header(report, "From")
    return_path = mailparts.header(report, "Return-Path").strip()
    from_system = bool(BOUNCE_SENDER.search(sender)) or return_path in ("<>", "")
    says_failed = bool(
        BOUNCE_SUBJECT.search(mailparts.header(report, "Subject"))
        or BOUNCE_SUBJECT.search(mailparts.body_text(report, include_attached=False)[:2000])
    )
    return from_system and says_failed


def _text(report: Message) -> list[Failure]:
    """A failure report in prose: X-Failed-Recipients and recipient fields written as text, then addresses the
    text names before it quotes the original, then the recipient of the quoted original message."""
    # The report's own addressee (our sender) and its sender (the mailer daemon) are never the failure.
    own = {a.lower() for name in ("To", "Cc", "From") for a in ADDRESS.findall(mailparts.header(report, name))}
    text = mailparts.body_text(report, include_attached=False)
    failed = mailparts.headers(report, "X-Failed-Recipients")
    candidates = [normalise_recipient(a) for value in failed for a in value.split(",")]
    candidates += [normalise_recipient(found) for found in TEXT_RECIPIENT.findall(text)]
    if not any(candidates):
        for line in text.split("\n"):
            if QUOTE_START.match(line):
                break
            candidates.extend(normalise_recipient(found) for found in ADDRESS.findall(line))
    if not any(c for c in candidates if c not in own):
        for original in mailparts.attached_messages(report):
            candidates.extend(normalise_recipient(a) for a in ADDRESS.findall(mailparts.header(original, "To")))
        tail = re.search(r"^To:\s*(.+)$", text, re.M | re.I)
        if tail and not any(c for c in candidates if c not in own):
            candidates.extend(normalise_recipient(a) for a in ADDRESS.findall(tail.group(1)))
    failures: list[Failure] = []
    for address in dict.fromkeys(c for c in candidates if c and c not in own and not ROBOTS.match(c)):
        context = _context(text, address)
        status, permanent = _status_of(context)
        hard = permanent if permanent is not None else _hard_by_words(context, True)
        failures.append(Failure(address, status, " ".join(context.split())[:300], hard))
    return failures


def _is_complaint(report: Message) -> bool:
    """An ARF or X-ARF report is a complaint about mail, not a report on our mail's delivery."""
    if mailparts.header(report, "X-XARF") or mailparts.header(report, "X-ARF"):
        return True
    return any(p.get_content_type() == "message/feedback-report" for p in mailparts.walk(report))


def bounce_read(report: Message) -> BounceReading | None:
    """Whether ``report`` is a delivery failure report, and what failed; never raises."""
    try:
        if _is_complaint(report):
            return None
        if report.get_content_type() == "multipart/report" or any(
            p.get_content_type() == "message/delivery-status" for p in mailparts.walk(report)
        ):
            failures = _dsn(report)
            if failures:
                return BounceReading("dsn", tuple(failures))
        failures = _ses(report)
        if failures:
            return BounceReading("amazonses", tuple(failures))
        if not _looks_like_bounce(report):
            return None
        vendor, failures = _vendor(report)
        if failures:
            return BounceReading(vendor, tuple(failures))
        failures = _text(report)
        return BounceReading("text", tuple(failures)) if failures else None
    except mailparts.MALFORMED:  # a report we cannot read is not a bounce; the message goes on to the mailboxes
        return None


def _notice_id(report: Message) -> str:
    for original in mailparts.attached_messages(report):
        notice = mailparts.header(original, "X-Megalayer-Notice")
        if notice:
            return notice
    return ""


def is_delivery_report(message: Message) -> bool:
    return bounce_read(message) is not None


def bounce_process(message: EmailMessage | Message) -> str:
    """Record the permanent failures of one DSN; returns what happened."""

    reading = bounce_read(message)
    failures = reading.hard if reading is not None else []
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
