"""Issue 14, item 6: every back-office page and staff API operation declares the permission it needs, and
each role gets exactly what its permissions say. The routes come from the URL conf and the API itself, so a
new route without a declared permission fails here; the table is rendered into docs/security.md
(``MEGALAYER_WRITE_ROLE_MATRIX=1 ./dev test megalayer/backoffice/tests/test_role_matrix.py`` rewrites it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from megalayer.accounts.models import User
from megalayer.accounts.roles import ANY_STAFF, MISSING_PERMISSION_HEADER, ROLES
from megalayer.api.auth import StaffTokenAuth
from megalayer.conftest import bearer, make_staff, sign_in_staff

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[3] / "docs" / "security.md"
START, END = "<!-- role-matrix:start -->", "<!-- role-matrix:end -->"
PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)\}")


def _backoffice_routes() -> list[tuple[str, str, str]]:
    """(path pattern, GET permission, POST permission) of every back-office page."""
    (backoffice,) = [
        p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == "backoffice"
    ]
    routes: list[tuple[str, str, str]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                declared = getattr(pattern.callback, "staff_permissions", None)
                assert declared is not None, f"/backoffice/{prefix}{pattern.pattern} declares no staff permission"
                routes.append((f"/backoffice/{prefix}{pattern.pattern}", *declared))

    walk(backoffice.url_patterns, "")
    return routes


def _api_operations() -> list[tuple[str, str, str]]:
    """(method, path, permission) of every staff operation of the API."""
    from megalayer.api.v1 import api

    operations: list[tuple[str, str, str]] = []
    for _, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                staff = [a for a in operation.auth_callbacks if isinstance(a, StaffTokenAuth)]
                if not staff:
                    continue
                assert staff[0].permission, f"{operation.methods} {path} declares no staff permission"
                operations.extend((method, f"/api/v1{path}", staff[0].permission) for method in operation.methods)
    return operations


def _allowed(role: str, permission: str) -> bool:
    return permission == ANY_STAFF or permission in ROLES[role][1]


def _url(pattern: str) -> str:
    return PLACEHOLDER.sub("x0", pattern)


def _member(role: str) -> User:
    return make_staff(f"{role}@megalayer.test", role)


def test_every_route_as_every_role_is_allowed_or_denied_exactly_as_declared():
    pages, operations = _backoffice_routes(), _api_operations()
    assert len(pages) >= 45
    assert len(operations) >= 30
    seen: dict[tuple[str, str, str], bool] = {}
    for role in ROLES:
        member = _member(role)
        browser = sign_in_staff(Client(), member)
        for pattern, read, write in pages:
            page = browser.get(_url(pattern))
            assert (MISSING_PERMISSION_HEADER not in page) == _allowed(role, read), (
                role,
                "GET",
                pattern,
                page.status_code,
            )
            seen[(role, "GET", pattern)] = MISSING_PERMISSION_HEADER not in page
            if write != read:
                changed = browser.post(_url(pattern), {})
                expected = _allowed(role, read) and _allowed(role, write)
                assert (MISSING_PERMISSION_HEADER not in changed) == expected, (role, "POST", pattern)
                seen[(role, "POST", pattern)] = MISSING_PERMISSION_HEADER not in changed
        token = bearer(member, staff=True)
        for method, pattern, permission in operations:
            if method == "GET":
                answer = Client().get(_url(pattern), **token)
            else:
                call = getattr(Client(), method.lower())
                answer = call(_url(pattern), json.dumps({}), content_type="application/json", **token)
            allowed = MISSING_PERMISSION_HEADER not in answer
            assert allowed == _allowed(role, permission), (role, method, pattern, answer.status_code)
            if not allowed:
                assert answer.status_code == (404 if permission == "abuse.legal" else 403)
            seen[(role, method, pattern)] = allowed
    assert len(seen) == len(ROLES) * (len(pages) + sum(r != w for _, r, w in pages) + len(operations))
    _check_docs(pages, operations)


def _table(pages: list[tuple[str, str, str]], operations: list[tuple[str, str, str]]) -> str:
    roles = list(ROLES)
    head = "| Route | Permission | " + " | ".join(ROLES[r][0] for r in roles) + " |"
    rows = [head, "|---|---|" + "---|" * len(roles)]

    def row(route: str, permission: str) -> str:
        marks = " | ".join("✓" if _allowed(r, permission) else "–" for r in roles)
        return f"| {route} | `{permission}` | {marks} |"

    for pattern, read, write in pages:
        rows.append(row(f"GET `{pattern}`", read))
        if write != read:
            rows.append(row(f"POST `{pattern}`", write))
    rows.extend(row(f"{method} `{pattern}`", permission) for method, pattern, permission in sorted(operations))
    return "\n".join(rows)


def _check_docs(pages: list[tuple[str, str, str]], operations: list[tuple[str, str, str]]) -> None:
    text = DOCS.read_text()
    table = _table(pages, operations)
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    wanted = f"{before}{START}\n{table}\n{END}{after}"
    if os.environ.get("MEGALAYER_WRITE_ROLE_MATRIX") == "1" and text != wanted:
        DOCS.write_text(wanted)
        text = DOCS.read_text()
    assert text == wanted, "docs/security.md's role matrix is stale: MEGALAYER_WRITE_ROLE_MATRIX=1 rewrites it"


def test_an_administrator_sets_roles_audited_and_an_unknown_role_changes_nothing(staff_client, staff):
    from megalayer.audit.models import AuditEvent

    member = _member("support")
    staff_client.post("/backoffice/staff/", {"user": member.pk, "roles": ["billing", "abuse"]})
    member.refresh_from_db()
    assert member.staff_roles == ["abuse", "billing"]
    assert member.has_perm("accounts.manage_billing")
    assert not member.has_perm("accounts.manage_tickets")
    event = AuditEvent.objects.get(action="staff.roles_set")
    assert (event.data["before"], event.data["after"]) == (["support"], ["abuse", "billing"])
    refused = staff_client.post("/backoffice/staff/", {"user": member.pk, "roles": ["billing", "god"]}, follow=True)
    assert "Unknown role(s): god." in refused.content.decode()
    member.refresh_from_db()
    assert member.staff_roles == ["abuse", "billing"]
    assert AuditEvent.objects.filter(action="staff.roles_set").count() == 1


def test_staff_tokens_need_a_second_factor_on_the_account():
    from allauth.mfa.models import Authenticator

    from megalayer.accounts.actions import token_create
    from megalayer.accounts.models import ApiToken
    from megalayer.core.errors import Forbidden

    member = _member("billing")
    with pytest.raises(Forbidden, match="Staff tokens need two-factor authentication"):
        token_create(user=member, name="ci", scope="write", staff=True)
    assert not ApiToken.objects.filter(user=member).exists()
    token = bearer(member, staff=True)  # with an authenticator now
    assert Client().get("/api/v1/staff/customers", **token).status_code == 200
    Authenticator.objects.filter(user=member).delete()  # the second factor removed afterwards
    refused = Client().get("/api/v1/staff/customers", **token)
    assert refused.status_code == 403
    assert "Staff accounts need two-factor authentication" in refused.json()["detail"]


def test_the_menu_shows_a_role_only_what_it_may_open():
    support = sign_in_staff(Client(), _member("support")).get("/backoffice/").content.decode()
    assert 'href="/backoffice/tickets/?status=waiting"' in support
    assert 'href="/backoffice/customers/"' in support
    for hidden in ("/backoffice/hosts/", "/backoffice/billing/invoices/", "/backoffice/staff/", "/backoffice/audit/"):
        assert f'href="{hidden}' not in support, hidden
    admin = sign_in_staff(Client(), _member("admin")).get("/backoffice/").content.decode()
    assert all(f'href="{p}' in admin for p in ("/backoffice/hosts/", "/backoffice/staff/", "/backoffice/audit/"))
    assert 'href="/backoffice/legal/orders/"' not in admin  # need-to-know: the legal role only
