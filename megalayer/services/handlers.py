"""What happens when a renewal line is paid (registered with billing, explicitly)."""

from __future__ import annotations

from typing import Any

from megalayer.billing.registry import register_line_kind
from megalayer.services.actions import service_renewal_paid
from megalayer.services.choices import LineKind
from megalayer.services.periods import service_of_renewal_reference


def renewal_paid(line: Any) -> None:

    service_id = service_of_renewal_reference(line.reference)
    service_renewal_paid(service_id=service_id, period_start=line.period_start, period_end=line.period_end)


def register() -> None:

    register_line_kind(LineKind.RENEWAL, on_paid=renewal_paid)
