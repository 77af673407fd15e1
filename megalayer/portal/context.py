"""Template context shared by every page: navigation and the Terms banner."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import resolve, reverse

from megalayer.accounts.models import User
from megalayer.accounts.queries import attention_of
from megalayer.accounts.roles import staff_may
from megalayer.terms.queries import current_version, latest_acceptance, upcoming_version


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    items: list[dict[str, Any]] = []
    banner: dict[str, str] | None = None
    current = current_version()
    if user is not None and user.is_authenticated and user.is_staff:
        staff_items = [
            ("Customers", "backoffice:customers"),
            ("Invoices", "backoffice:invoices"),
            ("Terms", "backoffice:terms"),
            ("Audit log", "backoffice:audit"),
        ]
        # Only what the staff member's roles open (issue 14, item 6): the permission the page itself declares.
        items = [
            {"label": label, "url": url}
            for label, url in ((label, reverse(name)) for label, name in staff_items)
            if staff_may(user, resolve(url).func.staff_permissions[0])  # type: ignore[attr-defined]
        ]
    elif user is not None and user.is_authenticated:
        items = [
            {"label": "Dashboard", "url": reverse("portal:dashboard")},
            {"label": "Services", "url": reverse("portal:services")},
            {"label": "Order", "url": reverse("portal:catalog")},
            {"label": "Billing", "url": reverse("portal:billing")},
            {"label": "Support", "url": reverse("portal:tickets")},
            {"label": "Notices", "url": reverse("portal:notices")},
            {"label": "Security", "url": reverse("portal:security"), "also": [reverse("portal:privacy")]},
        ]
        banner = _terms_banner(user)
    # The longest matching prefix wins, so /account/billing/ is not also "Dashboard" (/account/).
    prefixes = [(prefix, item) for item in items for prefix in [item["url"], *item.get("also", [])]]
    matches = [(prefix, item) for prefix, item in prefixes if request.path.startswith(prefix)]
    active = max(matches, key=lambda match: len(match[0]))[1] if matches else None
    for item in items:
        item["active"] = item is active
    email_banner = None
    if user is not None and user.is_authenticated and getattr(user, "email_bounced_at", None):
        bounced = next(a for a in attention_of(user) if a.code == "email-bounced")
        email_banner = {"text": bounced.message, "url": bounced.url}
    return {"nav_items": items, "terms_banner": banner, "current_terms": current, "email_banner": email_banner}


def _terms_banner(user: User) -> dict[str, str] | None:
    upcoming = upcoming_version()
    if upcoming is not None:
        return {
            "level": "info",
            "text": f"Version {upcoming.number} of our Terms of Service takes effect on "
            f"{upcoming.effective_at:%d %B %Y, %H:%M} UTC.",
        }
    accepted = latest_acceptance(user)
    if accepted is not None and accepted.method == "continued_use" and accepted.changes_seen_at is None:
        return {
            "level": "warning",
            "text": f"Our Terms of Service changed (version {accepted.version.number}); "
            "by continuing to use our services you accept them.",
        }
    return None
