"""The abuse desk's share of a customer's personal data (``privacy.hooks``): what their export shows, what an
erasure replaces, what it keeps and why, and the legal hold that stops an erasure (TOS-PRIVACY-1, TOS-HOLD-1).

Here rather than in ``privacy`` because privacy sits below the abuse desk in the layers: the desk tells privacy
about its records, privacy never reaches up for them."""

from __future__ import annotations

from typing import Any

from megalayer.abuse.models import AbuseCase, AbuseMessage, LegalExport, LegalHold, LegalOrder
from megalayer.core.people import ERASED
from megalayer.privacy.collect import json_file


def export(customer: Any) -> dict[str, bytes]:
    """The customer's cases with the messages shown to them (staff-internal notes are not theirs)."""
    cases = [
        {
            "case": case.public_id,
            "category": case.category,
            "status": case.status,
            "opened_at": case.opened_at,
            "deadline_at": case.deadline_at,
            "messages": [{"at": m.created_at, "from_staff": m.from_staff, "body": m.body} for m in case.messages.all()],
        }
        for case in AbuseCase.objects.filter(customer=customer).order_by("opened_at")
    ]
    return {"abuse_cases.json": json_file(cases)}


def erase(customer: Any, old_email: str) -> dict[str, int]:
    """The customer's own answers to cases; the staff's side and the cases themselves are enforcement records."""
    answers = AbuseMessage.objects.filter(case__customer=customer, from_staff=False)
    return {"abuse_answers": answers.update(body=ERASED, author=customer.public_id)}


def kept(customer: Any) -> dict[str, list[Any]]:
    snapshots = sum(
        customer.public_id in (hold.evidence.get("records") or {}).get("customers", [])
        for hold in LegalHold.objects.exclude(records="").only("evidence")
    )
    return {
        "abuse_cases": [AbuseCase.objects.filter(customer=customer).count(), "enforcement records (TOS-ABUSE-2)"],
        "legal": [
            LegalOrder.objects.filter(customer=customer).count()
            + LegalExport.objects.filter(customer=customer).count(),
            "legal orders and what was disclosed under them (TOS-LEGAL-1)",
        ],
        "legal_hold_snapshots": [
            snapshots,
            "evidence preserved under legal holds, as it stood when each was placed (TOS-HOLD-1)",
        ],
    }
