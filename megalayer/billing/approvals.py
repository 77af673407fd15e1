"""Refunds above a limit wait for a second staff member (four eyes, issue 14 item 6; TOS-REFUND-1)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from megalayer.accounts.actions.approvals import approval_request
from megalayer.accounts.models import Approval, User
from megalayer.billing.actions import refund_issue
from megalayer.billing.models import Invoice, Refund
from megalayer.core.money import Money


def refund_needs_approval(amount: Money) -> bool:
    """Above ``MEGALAYER_REFUND_APPROVAL_ABOVE`` for its currency; a currency without a limit always does."""
    limit: Decimal | None = settings.MEGALAYER_REFUND_APPROVAL_ABOVE.get(amount.currency)
    return limit is None or amount.amount > limit


def refund_request(
    *, invoice: Invoice, amount: Money, reason: str, note: str, destination: str, staff: User, idempotency_key: str
) -> Refund | Approval:
    """The refund at once up to the limit; above it, a request for a second staff member's approval."""
    if not refund_needs_approval(amount):
        return refund_issue(
            invoice=invoice, amount=amount, reason=reason, note=note, destination=destination,
            staff=staff, idempotency_key=idempotency_key,
        )  # fmt: skip
    payload = {
        "invoice": invoice.public_id, "amount": str(amount.amount), "currency": amount.currency, "reason": reason,
        "note": note, "destination": destination, "idempotency_key": idempotency_key,
    }  # fmt: skip
    summary = f"Refund {amount} on invoice {invoice.display_number} ({reason})"
    return approval_request(kind="billing.refund", payload=payload, summary=summary, staff=staff)


def refund_execute(approval: Approval) -> str:
    data = approval.payload
    refund = refund_issue(
        invoice=Invoice.objects.get(public_id=data["invoice"]),
        amount=Money(Decimal(data["amount"]), data["currency"]),
        reason=data["reason"],
        note=f"{data['note']} (approved: {approval.public_id})".strip(),
        destination=data["destination"],
        staff=approval.requested_by,
        idempotency_key=data["idempotency_key"],
    )
    return refund.public_id
