"""Legal holds (TOS-HOLD-1): on a customer, a service or an address, with a reason, the case or order it
serves, and an end (or none). Placing one takes an evidence copy of the server through its driver where
the driver can (else it records why not). While it stands, termination (expiry, violation, staff) stops
at it and says so; releasing it is audited and lets the deferred deletions run."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from megalayer.abuse.models import LegalHold
from megalayer.accounts.actions.approvals import approval_request
from megalayer.accounts.models import Approval, Customer, User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import DeletionHeld, InvalidInput, NotFound
from megalayer.network.models import IpAssignment
from megalayer.notices.actions import notice_for_staff
from megalayer.notices.models import Notice
from megalayer.privacy.collect import personal_data, zip_with_manifest
from megalayer.provisioning.actions import operation_request
from megalayer.provisioning.actions.hosts import host_driver_loaded
from megalayer.provisioning.drivers.base import Capability
from megalayer.provisioning.models import Server
from megalayer.terms.queries import policy_at


class LegalHoldStops(DeletionHeld):
    """A deletion that this legal hold forbids."""

    def __init__(self, hold: LegalHold) -> None:
        super().__init__(hold_id=hold.public_id, reason=hold.reason)
        self.hold = hold


def standing(now: dt.datetime) -> Q:
    return Q(released_at__isnull=True) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))


def holds_for_service(service: Any, now: dt.datetime | None = None) -> QuerySet[LegalHold]:
    """Standing holds covering a service: on it, on its customer, or on an address it holds."""

    moment = now or clock.now()
    addresses = IpAssignment.objects.filter(service=service, released_at__isnull=True).values_list("address", flat=True)
    scope = Q(service=service) | Q(customer_id=service.customer_id) | Q(address__in=list(addresses))
    return LegalHold.objects.filter(standing(moment)).filter(scope)


def hold_over_customer(customer: Any, now: dt.datetime | None = None) -> LegalHold | None:
    """The oldest standing hold that keeps anything of this customer: on them, on one of their services,
    or on an address any of their services ever held (evidence about an address is evidence about
    whoever held it). Closing the account and erasing its data both stop at it."""

    moment = now or clock.now()
    addresses = IpAssignment.objects.filter(customer=customer).values("address")
    scope = Q(customer=customer) | Q(service__customer=customer) | Q(address__in=addresses)
    return LegalHold.objects.filter(standing(moment)).filter(scope).order_by("placed_at").first()


def ensure_not_held(service: Any) -> None:
    """The termination boundary (``services.hooks.deletion_guard``): raise ``LegalHoldStops`` when a standing
    hold covers the service."""
    hold = holds_for_service(service).order_by("placed_at").first()
    if hold is not None:
        raise LegalHoldStops(hold)


def ensure_customer_not_held(customer: Any, now: dt.datetime) -> None:
    """The erasure boundary (``privacy.hooks.erasure_guard``): raise ``LegalHoldStops`` when a standing hold
    keeps anything of the customer."""
    hold = hold_over_customer(customer, now)
    if hold is not None:
        raise LegalHoldStops(hold)


def legal_hold_place(
    *,
    staff: User,
    reason: str,
    customer: Any = None,
    service: Any = None,
    address: str = "",
    case: Any = None,
    order_reference: str = "",
    ends_at: dt.datetime | None = None,
    open_ended: bool = False,
) -> LegalHold:
    """A hold ends when staff say (``ends_at``), stands until released (``open_ended``), or else after
    ``legal_hold.default_days`` of the Terms in force (90: a preservation request's usual term),
    renewable before it ends."""

    if customer is None and service is None and not address:
        raise InvalidInput("Hold a customer, a service or an address.", field="service")
    if not reason.strip():
        raise InvalidInput("Say why the evidence is preserved.", field="reason")
    if address:
        try:
            address = str(ipaddress.ip_address(address.strip()))
        except ValueError:
            raise InvalidInput("Give an IPv4 or IPv6 address.", field="address") from None
    now = clock.now()
    if ends_at is not None and open_ended:
        raise InvalidInput("Give an end or make the hold stand until released, not both.", field="ends_at")
    if ends_at is not None and ends_at <= now:
        raise InvalidInput("The hold must end in the future (or not at all).", field="ends_at")
    if ends_at is None and not open_ended:
        ends_at = now + dt.timedelta(days=policy_at(now).legal_hold.default_days)
    with transaction.atomic():
        hold = LegalHold.objects.create(
            customer=customer,
            service=service,
            address=address or None,
            reason=reason.strip()[:500],
            case=case,
            order_reference=order_reference[:200],
            placed_at=now,
            placed_by=str(staff),
            ends_at=ends_at,
        )
        evidence = {**_evidence(hold, staff), "records": _records_snapshot(hold)}
        LegalHold.objects.filter(pk=hold.pk).update(evidence=evidence, records=hold.records.name)
        hold.evidence = evidence
        audit_record(
            actor=Actor.for_user(staff),
            action="legal_hold.placed",
            target_type="legal_hold",
            target_id=hold.public_id,
            requirement="TOS-HOLD-1",
            data={
                "customer": customer.public_id if customer else None,
                "service": service.public_id if service else None,
                "address": address or None,
                "case": case.public_id if case else None,
                "order": order_reference,
                "ends_at": ends_at.isoformat() if ends_at else None,
                "evidence": evidence,
            },
        )
    return hold


def held_customers(hold: LegalHold) -> list[Any]:
    """Whose records a hold preserves: its customer, its service's customer, or everyone who ever
    held its address (evidence about an address is evidence about whoever held it)."""

    if hold.customer_id:
        ids = [hold.customer_id]
    elif hold.service is not None:
        ids = [hold.service.customer_id]
    else:
        ids = list(IpAssignment.objects.filter(address=hold.address).values_list("customer_id", flat=True))
    return list(Customer.objects.filter(pk__in=set(ids)).select_related("owner", "billing_profile").order_by("pk"))


def _records_snapshot(hold: LegalHold) -> dict[str, Any]:
    """The customers' records as they stand when the hold is placed (TOS-HOLD-1: "a snapshot of the
    server and the customer's records, with checksums"): one zip, a folder per customer, and a
    manifest of SHA-256 checksums; the zip's own SHA-256 is kept on the hold and in the audit log."""
    import hashlib

    from django.core.files.base import ContentFile

    customers = held_customers(hold)
    files = {
        f"{customer.public_id}/{name}": data for customer in customers for name, data in personal_data(customer).items()
    }
    header = {"hold": hold.public_id, "reason": hold.reason, "made_at": clock.now().isoformat()}
    payload = zip_with_manifest(files, header)
    hold.records.save(f"{hold.public_id}-records.zip", ContentFile(payload), save=False)
    sha256 = hashlib.sha256(payload).hexdigest()
    return {"customers": [c.public_id for c in customers], "sha256": sha256, "files": len(files)}


def _evidence(hold: LegalHold, staff: User) -> dict[str, Any]:
    """An evidence copy of each server in scope, through the driver where it can; else the reason why not."""

    servers = Server.objects.select_related("host", "service").filter(destroyed_at__isnull=True)
    if hold.service_id:
        servers = servers.filter(service_id=hold.service_id)
    elif hold.customer_id:
        servers = servers.filter(service__customer_id=hold.customer_id)
    elif hold.address:
        servers = servers.filter(
            service__ip_assignments__address=hold.address, service__ip_assignments__released_at=None
        )
    copies: dict[str, Any] = {}
    for server in servers:
        driver, error = host_driver_loaded(server.host)
        if driver is None:
            copies[server.service.public_id] = {"copy": None, "why_not": f"host driver unavailable: {error}"[:300]}
            continue
        if not driver.supports(Capability.EVIDENCE_COPY):
            copies[server.service.public_id] = {"copy": None, "why_not": f"the {server.host.driver} driver cannot copy"}
            continue
        operation = operation_request(
            service=server.service,
            kind="evidence_copy",
            actor=Actor.for_user(staff),
            idempotency_key=f"evidence:{hold.public_id}:{server.name}",
            parameters={"label": hold.public_id},
        )
        copies[server.service.public_id] = {"operation": operation.public_id}
    if not copies:
        return {"servers": {}, "note": "no live server in scope: the records are held"}
    return {"servers": copies}


def legal_hold_renew(*, hold: LegalHold, staff: User, note: str, ends_at: dt.datetime | None) -> LegalHold:
    """Extend a standing hold to a later end, or make it stand until released (``ends_at`` None).
    A hold that has ended is not revived: what it kept may be gone; place a new one."""
    if not note.strip():
        raise InvalidInput("Say why the hold goes on.", field="note")
    now = clock.now()
    with transaction.atomic():
        locked = LegalHold.objects.select_for_update().filter(pk=hold.pk).filter(standing(now)).first()
        if locked is None:
            raise NotFound("This hold is not standing; place a new one.")
        if locked.ends_at is None:
            raise InvalidInput("This hold already stands until released.", field="ends_at")
        if ends_at is not None and ends_at <= locked.ends_at:
            raise InvalidInput(
                f"A renewal ends after the hold does now ({locked.ends_at:%Y-%m-%d %H:%M} UTC).", field="ends_at"
            )
        previous = locked.ends_at
        LegalHold.objects.filter(pk=locked.pk).update(ends_at=ends_at)
        audit_record(
            actor=Actor.for_user(staff),
            action="legal_hold.renewed",
            target_type="legal_hold",
            target_id=locked.public_id,
            requirement="TOS-HOLD-1",
            data={"from": previous.isoformat(), "to": ends_at.isoformat() if ends_at else None, "note": note.strip()},
        )
    hold.refresh_from_db()
    return hold


HOLD_ENDING_WARNING = dt.timedelta(days=7)


def holds_ending_alert(now: dt.datetime | None = None) -> int:
    """Tell staff a week before a hold ends by its date: once it ends, the deletions it held back run.
    One notice per hold and end date (a renewed hold is announced again before its new end). The notice
    names the hold, not what it is about: the staff mailbox is wider than the legal team."""

    moment = now or clock.now()
    ending = LegalHold.objects.filter(
        released_at__isnull=True, ends_at__gt=moment, ends_at__lte=moment + HOLD_ENDING_WARNING
    )
    sent = 0
    for hold in ending:
        key = f"hold_ending:{hold.public_id}:{hold.ends_at:%Y%m%d%H%M}"
        if Notice.objects.filter(dedupe_key=key).exists():
            continue  # announced by an earlier run (and notice_create would return it, not send twice)
        notice_for_staff(kind="hold_ending", dedupe_key=key, context={"hold": hold})
        sent += 1
    return sent


def legal_hold_release(*, hold: LegalHold, staff: User, note: str) -> LegalHold:
    if not note.strip():
        raise InvalidInput("Say why the hold ends.", field="note")
    with transaction.atomic():
        if not LegalHold.objects.filter(pk=hold.pk, released_at__isnull=True).update(
            released_at=clock.now(), released_by=str(staff)
        ):
            raise NotFound("This hold is not standing.")
        audit_record(
            actor=Actor.for_user(staff),
            action="legal_hold.released",
            target_type="legal_hold",
            target_id=hold.public_id,
            requirement="TOS-HOLD-1",
            data={"note": note},
        )
    hold.refresh_from_db()
    return hold


def legal_hold_release_request(*, hold: LegalHold, staff: User, note: str) -> Approval:
    """Ending a hold frees evidence for deletion: it waits for a second staff member (four eyes, issue 14)."""
    if not note.strip():
        raise InvalidInput("Say why the hold ends.", field="note")
    if hold.released_at is not None:
        raise NotFound("This hold is not standing.")
    return approval_request(
        kind="abuse.hold_release",
        payload={"hold": hold.public_id, "note": note.strip()},
        summary=f"Release legal hold {hold.public_id} ({note.strip()[:120]})",
        staff=staff,
    )


def hold_release_execute(approval: Approval) -> str:
    hold = LegalHold.objects.get(public_id=approval.payload["hold"])
    legal_hold_release(hold=hold, staff=approval.requested_by, note=approval.payload["note"])
    return hold.public_id
