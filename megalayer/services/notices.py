"""Lifecycle notices: each states the next step and its date, and the clause behind it (TOS-EMAIL-2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from megalayer.core import clock
from megalayer.notices.actions import PendingNotice, notice_for_customer
from megalayer.services.models import Service
from megalayer.terms.policy import Policy
from megalayer.terms.queries import policy_at


def lifecycle_dates(service: Service, policy: Policy | None = None) -> dict[str, dt.datetime]:
    policy = policy or policy_at(clock.now())
    return {
        "expires_at": service.paid_until,
        "suspends_at": service.paid_until + dt.timedelta(days=policy.expiry.suspend_after_days),
        "deletes_at": service.paid_until + dt.timedelta(days=policy.expiry.delete_after_days),
    }


def service_notice_pending(
    *,
    service: Service,
    kind: str,
    detail: str = "",
    extra: dict[str, Any] | None = None,
    policy: Policy | None = None,
    requirement: str = "",
) -> PendingNotice:
    """The notice about ``service``, keyed by (kind, service, period, detail): sent once whoever asks twice."""
    key = f"{kind}:{service.public_id}:{service.paid_until:%Y%m%dT%H%M}{':' + detail if detail else ''}"
    context = {
        "service": service,
        "product": service.product,
        "detail": detail,
        **lifecycle_dates(service, policy),
        **(extra or {}),
    }
    return PendingNotice(kind=kind, customer=service.customer, dedupe_key=key, context=context, requirement=requirement)


def notice_service(
    *, service: Service, kind: str, detail: str = "", extra: dict[str, Any] | None = None, requirement: str = ""
) -> Any:
    """``requirement``: the clause the step was taken under (the service event's), cited by the notice."""
    pending = service_notice_pending(service=service, kind=kind, detail=detail, extra=extra, requirement=requirement)
    return notice_for_customer(
        kind=kind,
        customer=service.customer,
        dedupe_key=pending.dedupe_key,
        context=pending.context,
        requirement=requirement,
    )
