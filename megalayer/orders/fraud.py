"""Fraud checks on every order (TOS-FRAUD-1): a score from 0 to 100 with the reasons behind it.

Checks that need data from outside this machine (IP geolocation, card risk from the
gateway) read what is stored with the customer and the payment; with nothing
stored they add nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from megalayer.core import clock

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
    from megalayer.accounts.models import Customer
    from megalayer.orders.models import Order

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
    signup_country = getattr(customer, "signup_country", "")
    if profile is not None and signup_country and signup_country != profile.country:
        result.add(20, f"sign-up from {signup_country}, billed in {profile.country}")
    return result
