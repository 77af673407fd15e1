"""Staff roles and the permissions they grant (issue 14, item 6; TOS-SEC-1).

A staff member holds one or more roles (``User.staff_roles``); ``RoleBackend`` turns them into Django
permissions, so ``user.has_perm("accounts.manage_billing")`` and ``{{ perms.accounts.manage_billing }}``
work as Django developers expect, and permissions granted the usual way (groups, the admin) still add to
them. Every back-office page and every staff API operation declares the permission it needs
(``backoffice.access.staff_required``, ``api.auth.StaffTokenAuth``); a test walks them all as each role.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend

from megalayer.accounts.models import User

# Any signed-in staff member with a second factor (the overview, their own sign-in).
ANY_STAFF = "any staff"

PERMISSIONS: dict[str, str] = {
    "accounts.view_customers": "See customers, their services, orders and history",
    "accounts.manage_services": "Review orders; suspend, unsuspend, terminate, renew services",
    "accounts.manage_tickets": "Read, answer and route support tickets",
    "accounts.view_billing": "See invoices, payments and ledgers",
    "accounts.manage_billing": "Record bank transfers, refund, change tax rates",
    "accounts.manage_catalog": "Products, prices, coupons, affiliates",
    "accounts.manage_abuse": "Abuse inbox, cases, trusted reporters, null routes",
    "abuse.legal": "Legal orders and data exports for authorities",
    "accounts.manage_holds": "Legal holds and account deletions",
    "accounts.manage_machines": "Hosts, drivers, operations, address pools, attack alarms, network notices",
    "accounts.manage_terms": "Publish Terms; mail templates",
    "accounts.manage_webhooks": "Outgoing webhooks: endpoints, deliveries, replays",
    "accounts.view_audit": "The audit log",
    "accounts.manage_staff": "Staff accounts and their roles",
}

ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "support": ("Support", frozenset({"accounts.view_customers", "accounts.manage_tickets"})),
    "billing": (
        "Billing",
        frozenset({"accounts.view_customers", "accounts.view_billing", "accounts.manage_billing"}),
    ),
    "abuse": (
        "Abuse desk",
        frozenset({"accounts.view_customers", "accounts.manage_abuse", "accounts.manage_services"}),
    ),
    "legal": (
        "Legal",
        frozenset({"accounts.view_customers", "abuse.legal", "accounts.manage_holds", "accounts.view_audit"}),
    ),
    "operations": (
        "Operations",
        frozenset({"accounts.view_customers", "accounts.manage_machines", "accounts.manage_services"}),
    ),
    # Legal orders are need-to-know: an administrator sees them only with the legal role as well.
    "admin": ("Administrator", frozenset(PERMISSIONS) - {"abuse.legal"}),
}


# A refusal for a missing permission says which one in this header (pages and API alike), so tools and the
# role matrix test tell "not allowed" from "allowed, but no such object".
MISSING_PERMISSION_HEADER = "X-Megalayer-Missing-Permission"
# Legal matters are need-to-know: refused as "not found", not "forbidden" (abuse/actions/legal.py).
HIDDEN_PERMISSIONS = frozenset({"abuse.legal"})


def declared(permission: str) -> str:
    """``permission`` if it is one of ``PERMISSIONS`` (or ``ANY_STAFF``): a typo fails at import, not at request."""
    if permission != ANY_STAFF and permission not in PERMISSIONS:
        raise ValueError(f"undeclared staff permission {permission!r} (accounts/roles.py)")
    return permission


def refusal(permission: str) -> str:
    return f"Your roles do not include this: {PERMISSIONS.get(permission, permission)} ({permission})."


def role_permissions(roles: list[str] | tuple[str, ...]) -> set[str]:
    granted: set[str] = set()
    for role in roles:
        if role in ROLES:
            granted |= ROLES[role][1]
    return granted


def staff_may(user: User, permission: str) -> bool:
    """May this (already authenticated, active) staff member do what ``permission`` guards?"""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return permission == ANY_STAFF or bool(user.has_perm(permission))


class RoleBackend(BaseBackend):
    """Permissions from a staff member's roles. Authenticates nobody: the other backends do that."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if obj is not None or not getattr(user_obj, "is_active", False) or not getattr(user_obj, "is_staff", False):
            return set()
        return role_permissions(tuple(getattr(user_obj, "staff_roles", None) or ()))

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)
