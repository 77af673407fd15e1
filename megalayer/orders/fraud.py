"""Fraud checks on every order (TOS-FRAUD-1): a score from 0 to 100 with the reasons behind it.

The checks read what was stored when it happened: the customer's sign-up address and
its country (``accounts.geo``), and Stripe Radar's verdict on recent card payments
(``Payment.detail``, fetched when Stripe reported the payment). With nothing stored
a check adds nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from megalayer.accounts.models import Customer
from megalayer.billing.models import Payment
from megalayer.core import clock
from megalayer.orders.models import Order

DISPOSABLE_DOMAINS = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "tempmail.com",
        "trashmail.com",
        "yopmail.com",
        "sharklasers.com",
        "getnada.com",
        "throwawaymail.com",
        "dispostable.com",
        "maildrop.cc",
        "temp-mail.org",
    }
)


@dataclass
class FraudAssessment:
    score: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, points: int, reason: str) -> None:
        self.score = min(100, self.score + points)
        self.reasons.append(f"+{points} {reason}")


def assess(order: Any) -> FraudAssessment:

    result = FraudAssessment()
    customer = order.customer
    domain = customer.owner.email.rsplit("@", 1)[-1].lower()
    if domain in DISPOSABLE_DOMAINS:
        result.add(40, f"disposable e-mail domain {domain}")
    if customer.signup_ip:
        others = Customer.objects.filter(signup_ip=customer.signup_ip).exclude(pk=customer.pk).count()
        if others >= 2:
            result.add(30, f"{others} other accounts signed up from {customer.signup_ip}")
    recent = Order.objects.filter(customer=customer, created_at__gte=clock.now() - dt.timedelta(hours=24)).count()
    if recent > 3:
        result.add(25, f"{recent} orders in 24 hours")
    profile = getattr(customer, "billing_profile", None)
    if profile is not None and customer.signup_country and customer.signup_country != profile.country:
        result.add(20, f"sign-up from {customer.signup_country}, billed in {profile.country}")
    _gateway_risk(customer, result)
    return result


# Points for Stripe Radar's risk levels of a card payment.
RISK_POINTS = {"elevated": 30, "highest": 60}
RISK_WINDOW = dt.timedelta(days=7)


def _gateway_risk(customer: Any, result: FraudAssessment) -> None:
    """The worst gateway risk verdict among the customer's card payments of the last week (the payment of
    this order's invoice, or the top-ups that fund the balance it is paid from)."""

    payments = Payment.objects.filter(
        customer=customer,
        status="succeeded",
        completed_at__gte=clock.now() - RISK_WINDOW,
        detail__risk_level__in=list(RISK_POINTS),
    ).order_by("completed_at")
    worst = max(payments, key=lambda p: RISK_POINTS[p.detail["risk_level"]], default=None)
    if worst is not None:
        level = worst.detail["risk_level"]
        score = worst.detail.get("risk_score")
        result.add(
            RISK_POINTS[level],
            f"card payment {worst.public_id} rated {level} risk by the gateway"
            + (f" (score {score})" if score is not None else ""),
        )
