"""What happens when an invoice line of a given kind is paid or refunded.

Billing knows nothing of services or reinstalls: the app that owns a line kind
registers its handler here, explicitly (no signals). Handlers run inside the
transaction that records the payment, so a failing handler rolls the payment
record back with it and the gateway's retry (or the next automation run) tries
again; money received is never lost because top-ups reach the balance first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LineHandler = Callable[[Any], None]  # receives the InvoiceLine

_on_paid: dict[str, LineHandler] = {}
_on_refunded: dict[str, LineHandler] = {}


def register_line_kind(
    kind: str, *, on_paid: LineHandler | None = None, on_refunded: LineHandler | None = None
) -> None:
    if on_paid is not None:
        _on_paid[kind] = on_paid
    if on_refunded is not None:
        _on_refunded[kind] = on_refunded


def run_paid_handlers(invoice: Any) -> None:
    for line in invoice.lines.all():
        handler = _on_paid.get(line.kind)
        if handler is not None:
            handler(line)


def run_refunded_handlers(invoice: Any) -> None:
    for line in invoice.lines.all():
        handler = _on_refunded.get(line.kind)
        if handler is not None:
            handler(line)
