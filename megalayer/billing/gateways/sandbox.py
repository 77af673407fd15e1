"""The demo gateway: approves a payment a few seconds after it starts. Labelled SANDBOX everywhere."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.tasks import task

from megalayer.billing.actions import payment_succeeded
from megalayer.billing.gateways import Checkout, Gateway
from megalayer.billing.models import Payment
from megalayer.core import clock
from megalayer.core.money import Money
from megalayer.core.tasks import enqueue_on_commit

APPROVAL_DELAY = dt.timedelta(seconds=3)


class SandboxGateway(Gateway):
    code = "sandbox"
    label = "Sandbox card (demo, no real money)"
    is_sandbox = True

    def start(self, *, payment: Any, return_url: str) -> Checkout:

        enqueue_on_commit(sandbox_approve_task, payment.pk, run_after=clock.now() + APPROVAL_DELAY)
        return Checkout(redirect_url=return_url, reference=payment.public_id)

    def refund(self, *, payment: Any, amount: Money, refund: Any) -> None:
        """Nothing to call: the sandbox holds no real money."""


@task()
def sandbox_approve_task(payment_id: int) -> str:

    payment = Payment.objects.get(pk=payment_id)
    return payment_succeeded(payment=payment, gateway_detail={"sandbox": True}).status
