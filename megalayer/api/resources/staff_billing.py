"""``/staff/refunds``: refunds for reasons on the provider's side (TOS-REFUND-1); ``/staff/invoices/…/credit-notes``:
corrections of issued invoices (TOS-INVOICE-1). Staff tokens only."""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.accounts.models import Approval
from megalayer.accounts.queries import signed_in_user
from megalayer.api.auth import StaffTokenAuth, require_write, staff_auth
from megalayer.api.resources.billing import MoneyIn, MoneyOut, money_out
from megalayer.api.resources.staff_accounts import ApprovalOut, approval_out
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.billing.actions import invoice_credit
from megalayer.billing.approvals import refund_request
from megalayer.billing.choices import RefundDestination, RefundReason
from megalayer.billing.queries import invoice_by_public_id
from megalayer.core.errors import NotFound
from megalayer.core.money import Money

router = Router(tags=["staff"], auth=StaffTokenAuth())


class RefundIn(Schema):
    invoice: str = Field(max_length=24)
    amount: MoneyIn
    reason: RefundReason
    note: str = Field(min_length=1, max_length=2000)
    destination: RefundDestination = RefundDestination.BALANCE


class RefundOut(Schema):
    id: str
    invoice: str
    amount: MoneyOut
    reason: str
    destination: str
    credit_note: str
    created_at: dt.datetime


@router.post(
    "/staff/refunds",
    auth=staff_auth("accounts.manage_billing"),
    response={
        201: RefundOut,
        202: ApprovalOut,
        401: Problem,
        403: Problem,
        404: Problem,
        409: Problem,
        422: Problem,
    },
    summary="Refund part or all of a paid invoice (above the limit: 202, waiting for a second staff member)",
)
def staff_refund(request: HttpRequest, payload: RefundIn) -> Status[RefundOut] | Status[ApprovalOut]:
    require_write(request)
    invoice = invoice_by_public_id(payload.invoice)
    if invoice is None:
        raise NotFound("No such invoice.")
    refund = refund_request(
        invoice=invoice,
        amount=Money(payload.amount.amount, payload.amount.currency),
        reason=payload.reason,
        note=payload.note,
        destination=payload.destination,
        staff=signed_in_user(request),
        idempotency_key=request.headers.get("Idempotency-Key") or f"api:{uuid.uuid4()}",
    )
    if isinstance(refund, Approval):
        return Status(202, approval_out(refund))
    return Status(
        201,
        RefundOut(
            id=refund.public_id,
            invoice=invoice.public_id,
            amount=money_out(refund.amount, refund.currency),
            reason=refund.reason,
            destination=refund.destination,
            credit_note=str(refund.credit_note),
            created_at=refund.created_at,
        ),
    )


class CreditIn(Schema):
    amount: MoneyIn
    reason: str = Field(min_length=1, max_length=500, description="Why the invoice is corrected; on the note")


class CreditNoteOut(Schema):
    number: str
    invoice: str
    amount: MoneyOut
    amount_due: MoneyOut = Field(description="What is left to pay on the invoice after the credit")


@router.post(
    "/staff/invoices/{invoice_id}/credit-notes",
    auth=staff_auth("accounts.manage_billing"),
    response={201: CreditNoteOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem},
    summary="Correct an issued, unpaid invoice with a credit note; the invoice itself never changes (TOS-INVOICE-1)",
)
def staff_invoice_credit(request: HttpRequest, invoice_id: str, payload: CreditIn) -> Status[CreditNoteOut]:
    require_write(request)
    invoice = invoice_by_public_id(invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.")
    staff = signed_in_user(request)
    note = invoice_credit(
        invoice=invoice,
        amount=Money(payload.amount.amount, payload.amount.currency),
        reason=payload.reason,
        actor=Actor.for_user(staff),
        created_by=staff,
    )
    invoice.refresh_from_db()
    return Status(
        201,
        CreditNoteOut(
            number=str(note),
            invoice=invoice.public_id,
            amount=money_out(note.amount, invoice.currency),
            amount_due=money_out(invoice.amount_due.amount, invoice.currency),
        ),
    )
