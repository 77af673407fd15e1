"""Payment gateways behind one contract.

A gateway starts a payment (returns where to send the customer), confirms it
(through a verified webhook or, for the sandbox, a delayed task), and refunds
to the original payment. Confirmation always goes through
``billing.actions.payment_succeeded``, which credits the balance exactly once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from megalayer.core.errors import InvalidInput
from megalayer.core.money import Money


@dataclass(frozen=True, slots=True)
class Checkout:
    """Where the customer goes next to complete a payment."""

    redirect_url: str
    reference: str


class Gateway(ABC):
    code: str
    label: str
    is_sandbox: bool = False

    @abstractmethod
    def start(self, *, payment: Any, return_url: str) -> Checkout: ...

    @abstractmethod
    def refund(self, *, payment: Any, amount: Money, refund: Any) -> None: ...


def gateway_named(code: str) -> Gateway:
    from megalayer.billing.gateways.manual import ManualGateway
    from megalayer.billing.gateways.sandbox import SandboxGateway
    from megalayer.billing.gateways.stripe import StripeGateway

    gateways: dict[str, Gateway] = {g.code: g for g in (SandboxGateway(), StripeGateway(), ManualGateway())}
    try:
        return gateways[code]
    except KeyError as error:
        raise InvalidInput(f"Unknown payment method {code!r}.", field="gateway") from error


def enabled_gateways() -> list[Gateway]:
    from django.conf import settings

    return [gateway_named(code) for code in settings.MEGALAYER_GATEWAYS]
