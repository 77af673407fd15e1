"""Reads about customers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from megalayer.accounts.models import ApiToken, Approval, Customer, SshKey, User
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.core.ids import pk_or_none
from megalayer.terms.queries import policy_at


def customers_to_notify_of_terms() -> QuerySet[Customer]:
    """Who is e-mailed about a new Terms version: customers with services in use (TOS-ACCEPT-2).

    Everyone else sees the new version at their next sign-in (banner and diff).
    """
    in_use = ["pending", "provisioning", "active", "suspended"]
    return (
        Customer.objects.filter(status=Customer.Status.ACTIVE, owner__is_active=True, services__status__in=in_use)
        .distinct()
        .select_related("owner")
    )


def customers_search(query: str) -> QuerySet[Customer]:
    customers = Customer.objects.select_related("owner", "billing_profile").order_by("-created_at")
    query = query.strip()
    if not query:
        return customers
    return customers.filter(
        Q(public_id__iexact=query)
        | Q(owner__email__icontains=query)
        | Q(owner__full_name__icontains=query)
        | Q(billing_profile__name__icontains=query)
        | Q(billing_profile__organisation__icontains=query)
    )


SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_second_factor(user: User) -> bool:
    """Whether the account has an authenticator app or a security key (recovery codes alone do not count)."""
    return bool(Authenticator.objects.filter(user=user, type__in=SECOND_FACTORS).exists())


def signed_in_user(request: HttpRequest) -> User:
    """The person behind a request that authentication has already let through, typed as ``User``.

    Every face calls its actions with this rather than ``request.user`` (which is typed
    ``User | AnonymousUser``), so ``mypy --strict`` checks who acts (ADR 0005). An anonymous
    request reaching here is a wiring mistake in the face; it is refused, never acted on.
    """
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user


def customer_by_public_id(public_id: str) -> Customer | None:
    """One customer with their login and billing profile, or None (the faces answer 404)."""
    return Customer.objects.select_related("owner", "billing_profile").filter(public_id=public_id).first()


def customer_counts(since: dt.datetime) -> tuple[int, int]:
    """All customers, and those who signed up since ``since`` (the back office's home)."""
    return Customer.objects.count(), Customer.objects.filter(created_at__gte=since).count()


def staff_members(*, active_only: bool = False) -> QuerySet[User]:
    members = User.objects.filter(is_staff=True)
    return (members.filter(is_active=True) if active_only else members).order_by("email")


def staff_member(pk: object) -> User | None:
    key = pk_or_none(pk)
    return User.objects.filter(pk=key, is_staff=True).first() if key is not None else None


def approvals_for_staff() -> QuerySet[Approval]:
    return Approval.objects.select_related("requested_by", "decided_by")


def approval_by_public_id(public_id: str) -> Approval | None:
    return Approval.objects.filter(public_id=public_id).first()


def customer_of(user: User) -> Customer | None:
    """The account a login owns (staff own none)."""
    return Customer.objects.filter(owner=user).select_related("billing_profile").first()


def address_verified(user: User) -> bool:
    """Whether the login's current address was confirmed (allauth's EmailAddress)."""
    return bool(EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists())


def live_tokens_of(user: User, now: dt.datetime) -> QuerySet[ApiToken]:
    """The user's API tokens that are neither revoked nor expired."""
    live = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    return ApiToken.objects.filter(live, user=user, revoked_at__isnull=True)


@dataclass(frozen=True, slots=True)
class Attention:
    code: str
    message: str
    url: str


def attention_of(user: User) -> list[Attention]:
    """What the account holder should fix, asked on every face: the client area's banner, the sign-in
    redirect and the API's ``/me`` (TOS-EMAIL-1: a bounced address; TOS-SEC-1: an old password)."""
    found: list[Attention] = []
    if user.email_bounced_at is not None:
        found.append(
            Attention(
                "email-bounced",
                f"Mail to {user.email} bounced on {user.email_bounced_at:%d %B %Y}: we cannot reach you. E-mail is "
                "how we send every notice (TOS-EMAIL-1); please fix or replace the address.",
                reverse("account_email"),
            )
        )
    max_age = policy_at(clock.now()).accounts.password_max_age_days
    changed = user.password_changed_at or user.date_joined
    if max_age and clock.now() - changed > dt.timedelta(days=max_age):
        found.append(
            Attention(
                "password-old",
                f"Your password is more than {max_age} days old. Please change it (TOS-SEC-1).",
                reverse("account_change_password"),
            )
        )
    return found


def ssh_keys_of(customer: Customer) -> QuerySet[SshKey]:
    return SshKey.objects.filter(customer=customer)


def ssh_keys_chosen(*, customer: Customer, public_ids: list[str]) -> list[str]:
    """The key lines of the customer's keys named by ``public_ids``, in that order; another customer's key or
    an unknown one is a field error."""
    keys = {k.public_id: k.public_key for k in SshKey.objects.filter(customer=customer, public_id__in=public_ids)}
    missing = [p for p in public_ids if p not in keys]
    if missing:
        raise InvalidInput(f"No such key: {missing[0]}.", field="ssh_keys")
    return [keys[p] for p in dict.fromkeys(public_ids)]
