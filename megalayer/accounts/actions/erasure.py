"""Erasing an account's own personal data (TOS-PRIVACY-1), called by ``privacy`` after the grace period.

The customer and user rows stay (every financial and enforcement record points at them); what only
identifies the person goes: sign-in (sessions, tokens, addresses, authenticators, password), contacts,
the billing profile, the sign-up address. The account is closed and stays so.
"""

from __future__ import annotations

import datetime as dt

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession

from megalayer.accounts.actions import customer_status_change
from megalayer.accounts.models import ApiToken, BillingProfile, Contact, Customer


def account_erase(*, customer: Customer, alias: str, now: dt.datetime) -> dict[str, int]:
    """Erase the account's personal data in the caller's transaction; the login becomes ``alias``."""
    user = customer.owner
    for session in UserSession.objects.filter(user=user):
        session.end()
    erased = {
        "contacts": Contact.objects.filter(customer=customer).delete()[0],
        "billing_profile": BillingProfile.objects.filter(customer=customer).delete()[0],
        "api_tokens": ApiToken.objects.filter(user=user).delete()[0],
        "email_addresses": EmailAddress.objects.filter(user=user).delete()[0],
        "authenticators": Authenticator.objects.filter(user=user).delete()[0],
    }
    user.email = alias
    user.full_name = ""
    user.is_active = False
    user.email_bounced_at = None
    user.set_unusable_password()
    user.save(update_fields=["email", "full_name", "is_active", "email_bounced_at", "password"])
    Customer.objects.filter(pk=customer.pk).update(signup_ip=None, signup_country="", erased_at=now)
    customer_status_change(customer=customer, to=Customer.Status.CLOSED)  # closed since the request; stays so
    return erased
