"""Bank transfers recorded by staff with the bank's reference."""

from __future__ import annotations

from typing import Any

from megalayer.billing.gateways import Checkout, Gateway
from megalayer.core.errors import RuleRefused
from megalayer.core.money import Money


class ManualGateway(Gateway):
    code = "manual"
    label = "Bank transfer"

    def start(self, *, payment: Any, return_url: str) -> Checkout:
        return Checkout(redirect_url=return_url, reference=payment.public_id)

    def refund(self, *, payment: Any, amount: Money, refund: Any) -> None:
        raise RuleRefused(
            "A bank transfer is refunded by bank transfer outside the platform; refund to the balance instead.",
            rule="manual-refund-unsupported",
            requirement="TOS-REFUND-1",
        )
