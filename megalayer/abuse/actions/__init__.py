"""The abuse desk's writes (TOS-ABUSE-1, TOS-ABUSE-2): intake, attribution, cases, deadlines.

Intake stores the report unchanged with its SHA-256 first (one row per distinct report),
then parses it. Each finding becomes an event attributed to whoever held the address
*at the incident time* (IP management's history); events about a service group into its
open case for the category, or open one, which tells the customer with a deadline from
the Terms in force. Findings without a holder, or from free text, wait in triage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction

from megalayer.abuse.actions.accounts import account_close as account_close
from megalayer.abuse.actions.accounts import account_suspend as account_suspend
from megalayer.abuse.actions.accounts import enforcement_check
from megalayer.abuse.actions.holds import holds_ending_alert
from megalayer.abuse.actions.repeat import repeat_offence_decide as repeat_offence_decide
from megalayer.abuse.actions.repeat import repeat_offences_run
from megalayer.abuse.choices import CASE_STATUS, OPEN_CASE_STATUSES, CaseStatus, LineKind, Source
from megalayer.abuse.models import AbuseCase, AbuseEvent, AbuseMessage, AbuseReport, TrustedReporter
from megalayer.abuse.parsing import Finding, Parsed, parse
from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.actions import LineData, invoice_create, invoice_issue, invoice_pay_from_balance
from megalayer.billing.models import Invoice
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.events import event_emit
from megalayer.core.transactions import outermost
from megalayer.ledger.errors import InsufficientBalance
from megalayer.network.actions import null_route_start
from megalayer.network.models import NullRoute
from megalayer.network.queries import holder_at
from megalayer.notices.actions import notice_for_customer
from megalayer.notices.actions.inbound import Delivery, Mailbox
from megalayer.services.actions import service_suspend, service_terminate, service_unsuspend
from megalayer.services.choices import Reason
from megalayer.services.models import Service
from megalayer.terms.queries import policy_at, version_number_at

DESK = Actor.system("abuse desk")
MAX_REPORT_BYTES = 10 * 1024 * 1024
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")


def redact(text: str) -> str:
    """The complainant's personal data out of what the customer is sent (``MEGALAYER_ABUSE_REDACT``)."""
    if not settings.MEGALAYER_ABUSE_REDACT:
        return text
    return PHONE.sub("[redacted]", EMAIL.sub("[redacted e-mail]", text))


def abuse_mailbox(delivery: Delivery) -> Mailbox | None:
    """The abuse desk's mailbox (``notices.inbound.mailboxes``): mail to any abuse address or alias, and every
    ARF or X-ARF report whatever it was sent to, is stored unchanged, then parsed (TOS-ABUSE-1)."""
    if delivery.addressed_to(settings.MEGALAYER_ABUSE_ADDRESSES) or parse(delivery.raw).is_report:
        return Mailbox("abuse", abuse_mail_take)
    return None


def abuse_mail_take(delivery: Delivery) -> str:
    report, _ = report_receive(raw=delivery.raw, source=Source.MAIL)
    return f"abuse report {report.public_id}"


def report_receive(*, raw: bytes, source: str) -> tuple[AbuseReport, bool]:
    """Store, parse, attribute. Returns (report, created); the same bytes twice are one report."""
    if not raw.strip():
        raise InvalidInput("The report is empty.", field="body")
    if len(raw) > MAX_REPORT_BYTES:
        raise InvalidInput("The report is larger than 10 MB.", field="body")
    digest = hashlib.sha256(raw).hexdigest()
    existing = AbuseReport.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            report = AbuseReport.objects.create(source=source, raw=raw, sha256=digest, received_at=clock.now())
    except IntegrityError:
        return AbuseReport.objects.get(sha256=digest), False
    # Stored: from here on nothing is lost whatever the parser makes of it.
    parsed = parse(raw, authserv_id=settings.MEGALAYER_MAIL_AUTHSERV_ID)
    trusted = _trust(source, parsed)
    with transaction.atomic():
        AbuseReport.objects.filter(pk=report.pk).update(
            parser=parsed.parser,
            parse_error=parsed.error,
            reporter=parsed.reporter,
            subject=parsed.subject,
            needs_triage=bool(parsed.error),
            trusted=trusted,
        )
        fallback = parsed.sent_at or report.received_at
        triage = bool(parsed.error)
        for finding in parsed.findings:
            event = _event(report, finding, fallback, trusted=bool(trusted))
            triage = triage or event.case_id is None
        if triage:
            AbuseReport.objects.filter(pk=report.pk).update(needs_triage=True)
        audit_record(
            actor=DESK,
            action="abuse.report_received",
            target_type="abuse_report",
            target_id=report.public_id,
            requirement="TOS-ABUSE-1",
            data={
                "sha256": digest,
                "parser": parsed.parser,
                "events": len(parsed.findings),
                "error": parsed.error,
                "trusted": trusted,
            },
        )
    report.refresh_from_db()
    return report, True


def _trust(source: str, parsed: Parsed) -> str:
    """Why this report's structured findings may open cases on their own, or "" (issue 14, item 5).

    Anyone can send an ARF report naming any address; only a reporter staff trust, proved by a domain our
    mail server verified, or staff themselves (the back office, a staff API token), may set the desk in
    motion. Everything else waits in triage for a person to confirm each finding.
    """
    if source in (Source.STAFF, Source.API):
        return f"submitted by staff ({source})"
    for domain in parsed.verified_domains:
        parents = {".".join(domain.split(".")[i:]) for i in range(domain.count(".") + 1)}
        reporter = TrustedReporter.objects.filter(domain__in=parents).order_by("-domain").first()
        if reporter is not None:
            return f"trusted reporter {reporter.name}: {domain} verified by our mail server"[:200]
    return ""


def _event(report: AbuseReport, finding: Finding, fallback: dt.datetime, *, trusted: bool) -> AbuseEvent:

    moment = finding.occurred_at or fallback
    holder = holder_at(finding.address, moment)
    event = AbuseEvent.objects.create(
        report=report,
        address=finding.address,
        occurred_at=moment,
        category=finding.category,
        detail=finding.detail[:500],
        assignment=holder,
        confirmed=finding.confirmed and trusted,
        informational=not finding.actionable,
    )
    if holder is not None and holder.service_id is not None and event.confirmed:
        case = case_for(service=holder.service, category=finding.category, report=report)
        AbuseEvent.objects.filter(pk=event.pk).update(case=case)
        event.case = case
    return event


def case_for(*, service: Any, category: str, report: AbuseReport) -> AbuseCase:
    """The open case of (service, category), or a new one that tells the customer with a deadline."""
    found = AbuseCase.objects.filter(service=service, category=category, status__in=OPEN_CASE_STATUSES).first()
    if found is not None:
        return found
    now = clock.now()
    hours = policy_at(now).abuse.response_deadline_hours
    try:
        with transaction.atomic():
            case = AbuseCase.objects.create(
                customer=service.customer,
                service=service,
                category=category,
                opened_at=now,
                deadline_at=now + dt.timedelta(hours=hours),
            )
    except IntegrityError:  # opened a moment ago by a concurrent report
        return AbuseCase.objects.get(service=service, category=category, status__in=OPEN_CASE_STATUSES)

    excerpt = redact(parse(bytes(report.raw)).text.strip())[:4000]
    notice_for_customer(
        kind="abuse_case",
        customer=service.customer,
        dedupe_key=f"abuse_case:{case.public_id}",
        context={"case": case, "service": service, "excerpt": excerpt, "hours": hours},
    )
    audit_record(
        actor=DESK,
        action="abuse.case_opened",
        target_type="abuse_case",
        target_id=case.public_id,
        requirement="TOS-ABUSE-1",
        terms_version=version_number_at(now),
        data={"service": service.public_id, "category": category, "deadline": case.deadline_at.isoformat()},
    )
    event_emit(
        "abuse.case_opened",
        subject_id=case.public_id,
        customer_id=service.customer.public_id,
        data={"service": service.public_id, "category": category, "deadline": case.deadline_at.isoformat()},
    )
    return case


def case_answer(*, case: AbuseCase, customer: Any, body: str, author: str) -> AbuseMessage:
    """The customer's answer in the case thread: it stops the deadline's automatic action."""
    text = body.strip()
    if not text:
        raise InvalidInput("Write your answer.", field="body")
    with transaction.atomic():
        message = AbuseMessage.objects.create(case=case, author=author, body=text[:20000], created_at=clock.now())
        CASE_STATUS.claim(AbuseCase.objects.filter(pk=case.pk), sources=[CaseStatus.OPEN], target=CaseStatus.ANSWERED)
    return message


def abuse_deadlines_run() -> dict[str, int]:
    """Cases whose deadline passed without an answer: escalate; where the Terms say so for the category,
    null-route the case's addresses (and only those) at once (TOS-ABUSE-2). Each case acts once. Then the
    repeat-offence policy (``abuse.repeat_offence``) and the legal holds that end soon."""

    now = clock.now()
    counts = {"escalated": 0, "null_routed": 0}
    for case in AbuseCase.objects.filter(status=CaseStatus.OPEN, deadline_at__lte=now, deadline_action_at__isnull=True):
        with transaction.atomic():
            if not CASE_STATUS.claim(
                AbuseCase.objects.filter(pk=case.pk, deadline_action_at__isnull=True),
                sources=[CaseStatus.OPEN],
                target=CaseStatus.ESCALATED,
                deadline_action_at=now,
            ):
                continue
            counts["escalated"] += 1
            policy = policy_at(now)
            routed: list[str] = []
            if case.category in policy.abuse.auto_null_route_categories:
                addresses = sorted(set(case.events.filter(confirmed=True).values_list("address", flat=True)))
                for address in addresses:
                    if NullRoute.objects.filter(address=address, ended_at__isnull=True).exists():
                        continue
                    null_route_start(
                        address=address,
                        reason=f"{case.get_category_display()}: no answer by the deadline",
                        requirement="TOS-ABUSE-2",
                        case_reference=case.public_id,
                        actor=DESK,
                    )
                    routed.append(address)
            counts["null_routed"] += len(routed)
            audit_record(
                actor=DESK,
                action="abuse.deadline_passed",
                target_type="abuse_case",
                target_id=case.public_id,
                requirement="TOS-ABUSE-2",
                terms_version=version_number_at(now),
                data={"case": case.public_id, "null_routed": routed, "category": case.category},
            )
            notice_for_customer(
                kind="abuse_deadline",
                customer=case.customer,
                dedupe_key=f"abuse_deadline:{case.public_id}",
                context={"case": case, "routed": routed},
            )

    counts["repeat_offences"] = len(repeat_offences_run(now))
    counts["holds_ending"] = holds_ending_alert(now)
    return counts


def abuse_deadlines_plan(now: dt.datetime | None = None) -> dict[str, list[str]]:
    """What ``abuse_deadlines_run`` would do now, changing nothing (``megalayer abuse run --dry-run``)."""
    moment = now or clock.now()
    policy = policy_at(moment)
    due = AbuseCase.objects.filter(status=CaseStatus.OPEN, deadline_at__lte=moment, deadline_action_at__isnull=True)
    plan: dict[str, list[str]] = {"escalate": [], "null_route": [], "repeat_offence": []}
    for case in due.order_by("deadline_at", "id"):
        plan["escalate"].append(f"{case.public_id} ({case.category}, due {case.deadline_at:%Y-%m-%d %H:%M})")
        if case.category in policy.abuse.auto_null_route_categories:
            addresses = sorted(set(case.events.filter(confirmed=True).values_list("address", flat=True)))
            plan["null_route"] += [f"{address} (case {case.public_id})" for address in addresses]
    for offence in repeat_offences_run(moment, dry_run=True):
        plan["repeat_offence"].append(
            f"{offence.customer}: {len(offence.cases)} cases ({', '.join(offence.cases)}) → {offence.measure}"
        )
    return plan


CASE_ACTIONS = (
    "null_route",
    "suspend_service",
    "terminate_violation",
    "suspend_account",
    "close_account",
    "charge_fee",
    "close",
)


def case_act(*, case: AbuseCase, staff: User, action: str, address: str = "", note: str = "") -> AbuseCase:
    """Staff act on a case (TOS-ABUSE-2, TOS-VIOLATION-1); every action names the case and the clause.

    A termination for violation refunds nothing (TOS-VIOLATION-1) and stops at a legal hold (TOS-HOLD-1).
    """

    if action not in CASE_ACTIONS:
        raise InvalidInput("Unknown action.", field="action")
    actor = Actor.for_user(staff)
    reference = f"case {case.public_id}" + (f": {note}" if note else "")
    requirement = "TOS-VIOLATION-1" if action in ("terminate_violation", "close_account") else "TOS-ABUSE-2"
    with outermost():
        if action == "null_route":
            addresses = set(case.events.values_list("address", flat=True))
            if address not in addresses:
                raise InvalidInput("Choose an address of this case.", field="address")
            null_route_start(
                address=address, reason=reference[:255], requirement=requirement, case_reference=case.public_id,
                actor=actor,
            )  # fmt: skip
        elif action == "suspend_service" and case.service is not None:
            service_suspend(
                service=case.service, reason=Reason.ABUSE, actor=actor, requirement=requirement, note=reference
            )
        elif action == "terminate_violation" and case.service is not None:
            service_terminate(
                service=case.service, reason=Reason.VIOLATION, actor=actor, requirement=requirement, note=reference
            )
        elif action == "suspend_account":
            account_suspend(customer=case.customer, staff=staff, requirement=requirement, note=reference, case=case)
        elif action == "close_account":
            account_close(customer=case.customer, staff=staff, requirement="TOS-VIOLATION-1", note=reference, case=case)
        elif action == "charge_fee":
            case_charge_fee(case=case, staff=staff)
        if action in ("terminate_violation", "close_account", "close"):
            CASE_STATUS.reach(AbuseCase.objects.filter(pk=case.pk), CaseStatus.CLOSED, closed_at=clock.now())
        audit_record(
            actor=actor,
            action=f"abuse.{action}",
            target_type="abuse_case",
            target_id=case.public_id,
            requirement=requirement,
            data={"case": case.public_id, "address": address or None, "note": note, "refund": None},
        )
    case.refresh_from_db()
    return case


SERVICE_MEASURES = ("suspend", "unsuspend", "terminate")


def service_enforce(
    *,
    service: Service,
    measure: str,
    reason: str,
    staff: User,
    requirement: str,
    note: str,
    case: AbuseCase | None = None,
) -> Service:
    """Staff suspend, unsuspend or terminate one service, naming a clause of the Terms in force (TOS-ABUSE-2).

    A suspension or termination for abuse or a violation names its case, a case about the service's own
    customer (TOS-ABUSE-2, TOS-VIOLATION-1): a measure without one is refused before anything changes. The
    case gets its own audit record linking case and measure.
    """

    if measure not in SERVICE_MEASURES:
        raise InvalidInput("Choose suspend, unsuspend or terminate.", field="measure")
    bound = reason in (Reason.ABUSE, Reason.VIOLATION) and measure != "unsuspend"
    enforcement_check(customer=service.customer, requirement=requirement, case=case, needs_case=bound)
    actor = Actor.for_user(staff)
    reference = note + (f" (case {case.public_id})" if case else "")
    with outermost():
        if measure == "suspend":
            service_suspend(service=service, reason=reason, actor=actor, requirement=requirement, note=reference)
        elif measure == "unsuspend":
            service_unsuspend(service=service, actor=actor, requirement=requirement, note=reference)
        else:
            service_terminate(service=service, reason=reason, actor=actor, requirement=requirement, note=reference)
        if case is not None:
            audit_record(
                actor=actor,
                action=f"abuse.service_{measure}",
                target_type="abuse_case",
                target_id=case.public_id,
                requirement=requirement,
                data={"case": case.public_id, "service": service.public_id, "note": note, "refund": None},
            )
    service.refresh_from_db()
    return service


def event_confirm(*, event: AbuseEvent, staff: User) -> AbuseEvent:
    """Staff confirm a free-text finding: it is attributed and joins (or opens) its case.

    A finding from a report that informs rather than complains (ARF ``not-spam``, ``auth-failure``) is never
    confirmed into a case: it leads to no measure (issue 16).
    """
    if event.informational:
        raise RuleRefused(
            "This report informs (a DMARC failure or a not-spam verdict); it opens no case.",
            rule="informational-report",
            requirement="TOS-ABUSE-1",
        )
    with transaction.atomic():
        event = (
            AbuseEvent.objects.select_for_update(of=("self",))
            .select_related("assignment__service", "report")
            .get(pk=event.pk)
        )
        if event.confirmed and event.case_id is not None:
            return event
        AbuseEvent.objects.filter(pk=event.pk).update(confirmed=True)
        if event.assignment is not None and event.assignment.service is not None:
            case = case_for(service=event.assignment.service, category=event.category, report=event.report)
            AbuseEvent.objects.filter(pk=event.pk).update(case=case)
        remaining = AbuseEvent.objects.filter(report=event.report).filter(
            models.Q(confirmed=False) | models.Q(case__isnull=True)
        )
        if not remaining.exclude(pk=event.pk).exists() and not event.report.parse_error:
            AbuseReport.objects.filter(pk=event.report_id).update(needs_triage=False)
        audit_record(
            actor=Actor.for_user(staff),
            action="abuse.event_confirmed",
            target_type="abuse_report",
            target_id=event.report.public_id,
            requirement="TOS-ABUSE-1",
            data={"address": event.address, "category": event.category},
        )
    event.refresh_from_db()
    return event


def case_charge_fee(*, case: AbuseCase, staff: User) -> Any:
    """The infraction fee of the Terms in force for the case's category and the customer's offence level
    (TOS-ABUSE-2): an invoice, paid from the balance when it covers it. Once per case."""

    existing = Invoice.objects.filter(lines__kind=LineKind.INFRACTION_FEE, lines__reference=case.public_id).first()
    if existing is not None:
        return existing
    fees = (policy_at(clock.now()).abuse.infraction_fee or {}).get(case.category)
    if not fees:
        raise RuleRefused(
            "The Terms in force set no infraction fee for this category.",
            rule="no-infraction-fee",
            requirement="TOS-ABUSE-2",
        )
    level = AbuseCase.objects.filter(
        customer=case.customer, category=case.category, opened_at__lte=case.opened_at
    ).count()
    fee = fees[min(level, len(fees)) - 1].money()
    actor = Actor.for_user(staff)
    with transaction.atomic():
        draft = invoice_create(
            customer=case.customer,
            currency=fee.currency,
            lines=[
                LineData(
                    kind=LineKind.INFRACTION_FEE,
                    reference=case.public_id,
                    description=(
                        f"Infraction fee: {case.get_category_display()}, offence {level} (case {case.public_id})"
                    ),
                    unit_price=fee,
                )
            ],
        )
        invoice = invoice_issue(invoice=draft, actor=actor, auto_apply=False)
        try:
            with transaction.atomic():
                invoice_pay_from_balance(invoice=invoice, idempotency_key=f"infraction:{case.public_id}", actor=actor)
        except InsufficientBalance:
            pass  # stays issued: the customer pays it like any invoice
        audit_record(
            actor=actor,
            action="abuse.infraction_fee",
            target_type="abuse_case",
            target_id=case.public_id,
            requirement="TOS-ABUSE-2",
            terms_version=version_number_at(clock.now()),
            data={"case": case.public_id, "fee": str(fee), "offence": level, "invoice": invoice.public_id},
        )
    invoice.refresh_from_db()
    return invoice


DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def trusted_reporter_add(*, domain: str, name: str, note: str, staff: User) -> TrustedReporter:
    """Trust a complainant: its DKIM-verified structured reports open cases without a person (issue 14, item 5)."""
    domain = domain.strip().lower().rstrip(".")
    if not DOMAIN.match(domain):
        raise InvalidInput("Give the reporter's mail domain, e.g. spamcop.net.", field="domain")
    if not name.strip():
        raise InvalidInput("Name the reporter.", field="name")
    with transaction.atomic():
        try:
            with transaction.atomic():
                reporter = TrustedReporter.objects.create(
                    domain=domain, name=name.strip()[:100], note=note.strip()[:500],
                    added_by=str(getattr(staff, "email", staff)), added_at=clock.now(),
                )  # fmt: skip
        except IntegrityError as error:
            raise InvalidInput(f"{domain} is already trusted.", field="domain") from error
        audit_record(
            actor=Actor.for_user(staff),
            action="abuse.reporter_trusted",
            target_type="trusted_reporter",
            target_id=domain,
            requirement="TOS-ABUSE-1",
            data={"name": reporter.name, "note": reporter.note},
        )
    return reporter


def trusted_reporter_remove(*, reporter: TrustedReporter, staff: User, note: str) -> None:
    if not note.strip():
        raise InvalidInput("Say why the reporter is no longer trusted.", field="note")
    with transaction.atomic():
        TrustedReporter.objects.filter(pk=reporter.pk).delete()
        audit_record(
            actor=Actor.for_user(staff),
            action="abuse.reporter_untrusted",
            target_type="trusted_reporter",
            target_id=reporter.domain,
            requirement="TOS-ABUSE-1",
            data={"name": reporter.name, "note": note.strip()[:500]},
        )
