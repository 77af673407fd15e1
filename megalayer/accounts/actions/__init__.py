"""Every write to accounts: customers, billing profiles, API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from megalayer.accounts.choices import CUSTOMER_STATUS
from megalayer.accounts.geo import country_of
from megalayer.accounts.models import ApiToken, BillingProfile, Contact, Customer, User
from megalayer.accounts.queries import has_second_factor
from megalayer.accounts.roles import ROLES
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import Forbidden, InvalidInput, NotFound

TOKEN_PREFIX = "mgl"


def customer_status_change(*, customer: Customer, to: str) -> bool:
    """Move the account to ``to`` through its table (``accounts/choices.py``); ``False`` when it already was.

    The callers (the abuse desk's suspension and closure, an erasure request and its cancellation) audit the
    decision themselves, with the clause behind it."""
    rows = Customer.objects.filter(pk=customer.pk)
    moved = CUSTOMER_STATUS.reach(rows, to) == 1
    customer.status = to
    return moved


def customer_create(*, user: User, signup_ip: str | None, kind: str = Customer.Kind.INDIVIDUAL) -> Customer:
    """Open the customer account that a newly signed-up login owns."""

    return Customer.objects.create(
        owner=user, kind=kind, created_at=clock.now(), signup_ip=signup_ip, signup_country=country_of(signup_ip)
    )


@dataclass(frozen=True, slots=True)
class BillingData:
    name: str
    address_line1: str
    city: str
    country: str
    organisation: str = ""
    address_line2: str = ""
    postal_code: str = ""
    region: str = ""
    tax_id: str = ""


def billing_profile_update(*, customer: Customer, data: BillingData) -> BillingProfile:
    """Create or replace the customer's billing data (TOS-BILLDATA-1)."""
    country = data.country.strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Use the two-letter ISO country code, e.g. HK or DE.", field="country")
    for field in ("name", "address_line1", "city"):
        if not getattr(data, field).strip():
            raise InvalidInput("This field is required.", field=field)
    values = {
        "name": data.name.strip(),
        "organisation": data.organisation.strip(),
        "address_line1": data.address_line1.strip(),
        "address_line2": data.address_line2.strip(),
        "city": data.city.strip(),
        "postal_code": data.postal_code.strip(),
        "region": data.region.strip(),
        "country": country,
        "tax_id": data.tax_id.replace(" ", "").upper(),
        "updated_at": clock.now(),
    }
    with transaction.atomic():
        profile, _ = BillingProfile.objects.update_or_create(customer=customer, defaults=values)
        kind = Customer.Kind.ORGANISATION if values["organisation"] else Customer.Kind.INDIVIDUAL
        Customer.objects.filter(pk=customer.pk).update(kind=kind)
    return profile


def contact_add(*, customer: Customer, name: str, email: str, role: str) -> Contact:
    """Another person who receives the notices of one kind (billing, technical, abuse)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    if role not in Contact.Role.values:
        raise InvalidInput("Choose billing, technical or abuse.", field="role")
    if not name.strip():
        raise InvalidInput("This field is required.", field="name")
    try:
        validate_email(email)
    except ValidationError as error:
        raise InvalidInput("Enter a valid e-mail address.", field="email") from error
    contact, created = Contact.objects.get_or_create(
        customer=customer, email=email.strip().lower(), role=role, defaults={"name": name.strip()}
    )
    if not created:
        raise InvalidInput("This person is already a contact for that role.", field="email")
    return contact


def contact_remove(*, customer: Customer, contact_id: int) -> None:
    deleted, _ = Contact.objects.filter(customer=customer, pk=contact_id).delete()
    if not deleted:
        raise NotFound("No such contact.")


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown once, never stored


# A token lives 90 days unless its maker chooses otherwise (1 to 366 days, or until revoked): issue 14.
TOKEN_DEFAULT_DAYS = 90
TOKEN_MAX_DAYS = 366


def token_create(
    *, user: User, name: str, scope: str, staff: bool = False, expires_in_days: int | None = TOKEN_DEFAULT_DAYS
) -> IssuedToken:
    """Issue a token ``mgl_<prefix>_<secret>``; only the secret's hash is kept. ``expires_in_days=None``: it
    lives until revoked (or until the password changes or the account closes, which revoke every token)."""
    if scope not in ApiToken.Scope.values:
        raise InvalidInput("Scope must be read or write.", field="scope")
    if expires_in_days is not None and not 1 <= expires_in_days <= TOKEN_MAX_DAYS:
        raise InvalidInput(f"A token lives 1 to {TOKEN_MAX_DAYS} days, or until revoked.", field="expires_in_days")
    if not name.strip():
        raise InvalidInput("Give the token a name.", field="name")
    if staff and not user.is_staff:
        raise Forbidden("Only staff members can hold staff tokens.")
    if staff and not has_second_factor(user):  # issue 14, item 6: MFA is mandatory for every staff account
        raise Forbidden("Staff tokens need two-factor authentication on the account: set it up first.")
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:100],
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        scope=scope,
        is_staff_token=staff,
        created_at=now,
        expires_at=None if expires_in_days is None else now + dt.timedelta(days=expires_in_days),
    )
    return IssuedToken(token=token, plaintext=f"{TOKEN_PREFIX}_{prefix}_{secret}")


def token_revoke(*, user: User, public_id: str) -> None:
    updated = ApiToken.objects.filter(user=user, public_id=public_id, revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )
    if not updated:
        raise NotFound("No such token.")


def token_authenticate(plaintext: str) -> ApiToken | None:
    """The live token for ``plaintext``, with its last-used time refreshed; ``None`` if invalid."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash_secret(parts[2])):
        return None
    if not token.user.is_active:
        return None
    now = clock.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    # Refresh at most once a minute: a busy integration must not turn every read into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def user_sign_in_close(*, user_id: int) -> None:
    """A closed account (deleted by its customer, or closed for a violation) signs in no more: the login is
    deactivated, every API token revoked and every session ended, at once."""
    from allauth.usersessions.models import UserSession

    User.objects.filter(pk=user_id).update(is_active=False)
    ApiToken.objects.filter(user_id=user_id, revoked_at__isnull=True).update(revoked_at=clock.now())
    for session in UserSession.objects.filter(user_id=user_id):
        session.end()


def user_password_changed(*, user: User) -> None:
    """Stamp the password's age, and end every API token: a token made by whoever knew the old password
    must not outlive it (issue 14)."""
    now = clock.now()
    User.objects.filter(pk=user.pk).update(password_changed_at=now)
    user.password_changed_at = now
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)


def staff_create(
    *,
    email: str,
    password: str,
    full_name: str = "",
    actor: Actor,
    roles: tuple[str, ...] = ("admin",),
    superuser: bool = False,
) -> User:
    """Create a staff login with its roles (``accounts/roles.py``); a superuser also opens the Django admin."""
    _known_roles(roles)
    if User.objects.filter(email__iexact=email.strip()).exists():
        raise InvalidInput("An account with this e-mail address exists already.", field="email")
    with transaction.atomic():
        user = User.objects.create_user(
            email, password, is_staff=True, is_superuser=superuser, full_name=full_name, staff_roles=list(roles)
        )
        user_password_changed(user=user)
        audit_record(
            actor=actor,
            action="staff.create",
            target_type="user",
            target_id=str(user.pk),
            requirement="TOS-SEC-1",
            data={"email": user.email, "roles": list(roles), "superuser": superuser},
        )
    return user


def _known_roles(roles: list[str] | tuple[str, ...]) -> None:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise InvalidInput(f"Unknown role(s): {', '.join(sorted(unknown))}.", field="roles")


def staff_roles_set(*, user: User, roles: list[str], actor: Actor) -> User:
    """Give a staff member exactly these roles; audited with what they had before."""
    _known_roles(roles)
    if not user.is_staff:
        raise InvalidInput("Only staff members have roles.", field="user")
    chosen = sorted(set(roles))
    with transaction.atomic():
        before = list(User.objects.select_for_update().values_list("staff_roles", flat=True).get(pk=user.pk))
        User.objects.filter(pk=user.pk).update(staff_roles=chosen)
        audit_record(
            actor=actor,
            action="staff.roles_set",
            target_type="user",
            target_id=str(user.pk),
            requirement="TOS-SEC-1",
            data={"email": user.email, "before": before, "after": chosen},
        )
    user.refresh_from_db()
    return user


def customer_signup_complete(*, user: User, signup_ip: str | None, full_name: str = "", **_: Any) -> Customer:
    """What every new customer login gets: its account, the name they gave and a stamped password age."""
    if full_name:
        user.full_name = full_name
        user.save(update_fields=["full_name"])
    user_password_changed(user=user)
    return customer_create(user=user, signup_ip=signup_ip)
