"""Erasing a customer's personal data from the outbox (TOS-PRIVACY-1), called by ``privacy``.

A notice row stays (its dedupe key keeps a retry from sending twice), its content goes.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from megalayer.accounts.models import Customer
from megalayer.core.people import ERASED
from megalayer.notices.models import Notice


def notices_erase(*, customer: Customer, old_email: str, alias: str, ticket_ids: Iterable[str]) -> dict[str, int]:
    """The customer's notices and the staff's copies of their ticket messages (which quote them)."""
    staff_copies = Q(pk__in=[])
    for ticket_id in ticket_ids:
        staff_copies |= Q(dedupe_key__startswith=f"ticket_staff:{ticket_id}:")
    return {
        "notices": Notice.objects.filter(Q(customer=customer) | Q(recipient__iexact=old_email)).update(
            recipient=alias, subject=ERASED, body_text=ERASED + "\n", body_html="", reply_to="", last_error=""
        ),
        "staff_copies": Notice.objects.filter(staff_copies).update(
            subject=ERASED, body_text=ERASED + "\n", body_html=""
        ),
    }
