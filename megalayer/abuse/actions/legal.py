"""Legal orders (TOS-LEGAL-1): recorded by staff with the legal permission, carried out through the same
action layer as abuse cases (null route, suspension, legal hold), and answered with a data export: a zip
of the customer's records, services, invoices, sign-ins, notices and address history for a period, with
a manifest of SHA-256 checksums. Every step is audited with who did it and why."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.http import FileResponse

from megalayer.abuse.actions.holds import legal_hold_place
from megalayer.abuse.models import LegalExport, LegalOrder
from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, NotFound, RuleRefused
from megalayer.core.transactions import outermost
from megalayer.core.uploads import upload_check
from megalayer.network.actions import null_route_start
from megalayer.privacy.collect import customer_records, zip_with_manifest
from megalayer.services.actions import service_suspend
from megalayer.services.choices import Reason

LEGAL_PERMISSION = "abuse.legal"


def may_see_legal(user: User) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_staff and user.has_perm(LEGAL_PERMISSION))


def require_legal(user: User) -> None:
    """Legal matters are invisible, not forbidden, to everyone else: a 404 tells nothing."""
    if not may_see_legal(user):
        raise NotFound("Not found.")


def legal_order_record(
    *,
    staff: User,
    kind: str,
    issuer: str,
    reference: str,
    orders: list[str],
    customer: Any = None,
    service: Any = None,
    address: str = "",
    document: tuple[str, bytes] | None = None,
    notes: str = "",
) -> LegalOrder:
    require_legal(staff)
    if kind not in LegalOrder.Kind.values:
        raise InvalidInput("Choose the kind of order.", field="kind")
    if not issuer.strip() or not reference.strip():
        raise InvalidInput("Name the issuer and the reference.", field="issuer")
    unknown = [o for o in orders if o not in LegalOrder.Orders.values]
    if unknown or not orders:
        raise InvalidInput("Say what the order requires.", field="orders")
    if service is not None and customer is None:
        customer = service.customer
    now = clock.now()
    with transaction.atomic():
        order = LegalOrder(
            kind=kind,
            issuer=issuer.strip()[:200],
            reference=reference.strip()[:200],
            received_at=now,
            orders=orders,
            customer=customer,
            service=service,
            address=address or None,
            notes=notes,
            recorded_by=str(staff),
            created_at=now,
        )
        if document is not None:
            _store_document(order, *document)
        order.save()
        audit_record(
            actor=Actor.for_user(staff),
            action="legal.order_recorded",
            target_type="legal_order",
            target_id=order.public_id,
            requirement="TOS-LEGAL-1",
            data={
                "kind": kind,
                "issuer": order.issuer,
                "reference": order.reference,
                "orders": orders,
                "document_sha256": order.document_sha256 or None,
            },
        )
    return order


def _store_document(order: LegalOrder, name: str, content: bytes) -> None:
    """Stored under the order's id (a sent file name never becomes a path), with its name and SHA-256."""
    order.document_name = upload_check(name, content, field="document")
    order.document_sha256 = hashlib.sha256(content).hexdigest()
    extension = order.document_name.rsplit(".", 1)[-1].lower()
    order.document.save(f"{order.public_id}.{extension}", ContentFile(content), save=False)


def legal_order_attach(*, order: LegalOrder, staff: User, name: str, content: bytes) -> LegalOrder:
    """Attach the order's document when it came after the order was recorded. Once attached it is
    evidence and is never replaced: a further letter is recorded as an order of its own."""
    require_legal(staff)
    with transaction.atomic():
        locked = LegalOrder.objects.select_for_update().get(pk=order.pk)
        if locked.document:
            raise RuleRefused(
                f"A document is attached already (SHA-256 {locked.document_sha256[:12]}…); it is never replaced.",
                rule="document-attached",
                requirement="TOS-LEGAL-1",
                field="document",
            )
        _store_document(locked, name, content)
        locked.save(update_fields=["document", "document_name", "document_sha256"])
        audit_record(
            actor=Actor.for_user(staff),
            action="legal.document_attached",
            target_type="legal_order",
            target_id=locked.public_id,
            requirement="TOS-LEGAL-1",
            data={"name": locked.document_name, "sha256": locked.document_sha256, "bytes": len(content)},
        )
    return locked


def document_response(order: LegalOrder) -> FileResponse:
    """The order's document as a download, under the name it was sent with; never shown inline."""
    import mimetypes

    content_type = mimetypes.guess_type(order.document_name)[0] or "application/octet-stream"
    response = FileResponse(
        order.document.open("rb"), as_attachment=True, filename=order.document_name, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def legal_export(*, order: LegalOrder, staff: User, reason: str, start: dt.datetime, end: dt.datetime) -> LegalExport:
    """The customer's data for the period as a zip with ``manifest.json`` (file → SHA-256, size)."""
    require_legal(staff)
    if order.customer is None:
        raise InvalidInput("The order names no customer.", field="customer")
    if not reason.strip():
        raise InvalidInput("Say why the export is made.", field="reason")
    if end <= start:
        raise InvalidInput("The period must end after it starts.", field="end")
    files = customer_records(order.customer, start, end)
    payload = zip_with_manifest(
        files,
        {
            "order": order.public_id,
            "issuer": order.issuer,
            "reference": order.reference,
            "customer": order.customer.public_id,
            "period": [start.isoformat(), end.isoformat()],
            "made_by": str(staff),
            "made_at": clock.now().isoformat(),
        },
    )
    with transaction.atomic():
        export = LegalExport(
            order=order,
            customer=order.customer,
            period_start=start,
            period_end=end,
            sha256=hashlib.sha256(payload).hexdigest(),
            made_by=str(staff),
            reason=reason.strip()[:500],
            created_at=clock.now(),
        )
        export.file.save(f"{export.public_id}.zip", ContentFile(payload), save=False)
        export.save()
        if LegalOrder.Orders.PROVIDE_DATA in order.orders and LegalOrder.Orders.PROVIDE_DATA not in order.measures:
            # The first export answers the order's "provide data": the order records it as its measure.
            order.measures = {
                **order.measures,
                LegalOrder.Orders.PROVIDE_DATA.value: {
                    "measure": f"export {export.public_id}",
                    "at": clock.now().isoformat(),
                    "by": str(staff),
                },
            }
            LegalOrder.objects.filter(pk=order.pk).update(measures=order.measures)
        audit_record(
            actor=Actor.for_user(staff),
            action="legal.export_made",
            target_type="legal_order",
            target_id=order.public_id,
            requirement="TOS-LEGAL-1",
            data={"export": export.public_id, "sha256": export.sha256, "reason": export.reason, "files": sorted(files)},
        )
    return export


def legal_order_execute(
    *,
    order: LegalOrder,
    staff: User,
    action: str,
    reason: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> str:
    """Carry out one thing the order requires (TOS-LEGAL-1) through the abuse desk's own actions: a null route
    for ``suspend_ip``, a suspension for ``shut_down``, a legal hold for ``preserve``, an export for
    ``provide_data`` (``reason``, ``start``, ``end``). The order records the measure it made (``measures``),
    so the link from order to measure is kept; an action already carried out is refused with nothing changed.
    Returns the measure's reference."""

    require_legal(staff)
    if action not in order.orders:
        raise InvalidInput("The order does not require that.", field="action")
    actor = Actor.for_user(staff)
    note = f"legal order {order.public_id} ({order.issuer}, {order.reference})"
    with outermost():
        order = LegalOrder.objects.select_for_update().get(pk=order.pk)
        if action in order.measures:
            raise RuleRefused(
                f"{LegalOrder.Orders(action).label} was carried out already.",
                rule="already-carried-out",
                requirement="TOS-LEGAL-1",
            )
        measure = _carry_out(order, action, staff, actor, note, reason=reason, start=start, end=end)
        order.measures = {
            **order.measures,
            action: {"measure": measure, "at": clock.now().isoformat(), "by": str(staff)},
        }
        order.save(update_fields=["measures"])
        audit_record(
            actor=actor,
            action=f"legal.{action}",
            target_type="legal_order",
            target_id=order.public_id,
            requirement="TOS-LEGAL-1",
            data={"order": order.public_id, "measure": measure},
        )
    return measure


def _carry_out(
    order: LegalOrder,
    action: str,
    staff: User,
    actor: Actor,
    note: str,
    *,
    reason: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> str:
    if action == LegalOrder.Orders.SUSPEND_IP:
        if not order.address:
            raise InvalidInput("The order names no address.", field="address")
        route = null_route_start(
            address=order.address, reason=note[:255], requirement="TOS-LEGAL-1", case_reference=order.public_id,
            actor=actor,
        )  # fmt: skip
        return f"null route {route.address}"
    if action == LegalOrder.Orders.SHUT_DOWN:
        if order.service is None:
            raise InvalidInput("The order names no service.", field="service")
        service_suspend(service=order.service, reason=Reason.STAFF, actor=actor, requirement="TOS-LEGAL-1", note=note)
        return f"service {order.service.public_id} suspended"
    if action == LegalOrder.Orders.PRESERVE:
        hold = legal_hold_place(
            staff=staff, reason=note, customer=order.customer if order.service is None else None,
            service=order.service, address=order.address or "", order_reference=order.reference,
        )  # fmt: skip
        return f"legal hold {hold.public_id}"
    if start is None or end is None:
        raise InvalidInput("Give the period the data is provided for.", field="start")
    export = legal_export(order=order, staff=staff, reason=reason, start=start, end=end)
    return f"export {export.public_id}"  # legal_export recorded it on the order too
