"""Business events the operator can subscribe to (issue 20, outgoing webhooks).

A domain app that changes something an operator's other systems care about (a service suspended, an invoice
paid) calls ``event_emit`` inside the transaction that makes the change. The call goes through the
``emitted`` hook (``core.hooks``): the ``webhooks`` app, above every emitter, connects to it and writes one
delivery row per subscribed endpoint in that same transaction, so a rolled-back change emits nothing and a
committed one cannot lose its event. Emitters never import ``webhooks``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from megalayer.core import clock
from megalayer.core.hooks import Hook
from megalayer.core.ids import new_public_id

EVENT_TYPES: dict[str, str] = {
    "service.activated": "A service's server is built and running",
    "service.suspended": "A service was suspended (non-payment, abuse, staff, traffic)",
    "service.recovered": "A suspended service runs again",
    "service.terminated": "A service ended; its server and data are deleted",
    "service.cancellation_requested": "A customer cancelled a service (at the end of the term or now)",
    "invoice.issued": "An invoice was issued (numbered)",
    "invoice.paid": "An invoice was paid in full",
    "payment.received": "Money reached a customer's balance (gateway or bank transfer)",
    "abuse.case_opened": "An abuse case was opened against a customer",
    "ticket.replied": "Staff answered a support ticket",
}


@dataclass(frozen=True, slots=True)
class Event:
    """What happened, to what, for whom. ``data`` holds plain JSON values only."""

    type: str
    subject_id: str
    customer_id: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: new_public_id("evt"))
    at: dt.datetime = field(default_factory=clock.now)

    def payload(self) -> dict[str, Any]:
        """The JSON document sent to subscribers (Stripe-like: id, type, created, data)."""
        return {
            "id": self.id,
            "type": self.type,
            "created": self.at.isoformat().replace("+00:00", "Z"),
            "data": {"object": self.type.split(".", 1)[0], "id": self.subject_id, "customer": self.customer_id,
                     **self.data},
        }  # fmt: skip


emitted: Hook[[list[Event]], object] = Hook("core.events.emitted")
"""Called with events inside the emitter's transaction (a batch at once: the automation's invoices). Filled
by ``webhooks``."""


def event_new(type: str, *, subject_id: str, customer_id: str, data: dict[str, Any] | None = None) -> Event:
    """An event of ``type`` (one of ``EVENT_TYPES``: an unknown type is a bug, refused at once)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r} (core/events.py)")
    return Event(type=type, subject_id=subject_id, customer_id=customer_id, data=dict(data or {}))


def event_emit(type: str, *, subject_id: str, customer_id: str, data: dict[str, Any] | None = None) -> Event:
    """Emit one event now, in the caller's transaction."""
    event = event_new(type, subject_id=subject_id, customer_id=customer_id, data=data)
    emitted.call([event])
    return event


def events_emit(events: list[Event]) -> None:
    """Emit a batch with one call of the receivers (their cost does not grow with the batch's queries)."""
    if events:
        emitted.call(events)
