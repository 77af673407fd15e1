"""Issue 15: every write that a rule of the Terms governs goes through the owning app's actions.

The source is scanned for ORM writes (``create``, ``update``, ``delete``, ``save``, ``bulk_*``,
``get_or_create``, ``update_or_create`` on a manager or queryset, and ``save()``/``delete()`` on an instance).
They may stand only in an app's ``actions`` module or package, in migrations and in tests. Every other place
is listed below with the reason it may write; a new write outside the actions fails this test and names the
line."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2]
WRITES = {"create", "update", "delete", "save", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
QUERYSET = {"objects", "filter", "exclude", "all", "select_for_update", "select_related", "only", "order_by", "using"}

EXCEPTIONS: dict[str, str] = {
    "accounts/models.py": "UserManager.create_user: Django's contract for creating a login (called by actions)",
    "audit/models.py": "the append-only guard of AuditEvent.save refuses updates; the insert is audit_record's",
    "ledger/models.py": "the append-only guards of the ledger's save methods; postings are written by ledger_post",
    "core/scheduler.py": "the claim row of a periodic job's slot (the scheduler's own bookkeeping, no rule)",
    "core/transitions.py": "the one helper that applies a status transition; called only from actions",
    "api/idempotency.py": "the API face's own replay store (a request's first response), no rule of the Terms",
    "api/apps.py": "the API's share of an erasure (privacy.hooks.erase): its own replay store",
    "billing/gateways/stripe.py": "the card gateway records its webhook events and the gateway's references on the "
    "payment and refund it was called for; billing's actions call it inside their transactions",
    "provisioning/drivers/sandbox.py": "the sandbox driver's simulated machines (its stand-in for a hypervisor)",
    "provisioning/drivers/proxmox.py": "not the ORM: proxmoxer's REST call that deletes a snapshot on the host",
    "catalog/seed.py": "reference data loaded at set-up (locations, tiers, images), idempotent",
    "support/seed.py": "reference data loaded at set-up (departments), idempotent",
    "cli/management/commands/demo.py": "demo data: rows no action creates (catalog, hosts, prefixes); "
    "every customer-facing step of the demo goes through actions",
    "conftest.py": "test fixtures",
}


def _chain(node: ast.expr) -> list[str]:
    names: list[str] = []
    while True:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names.append(node.func.attr)
            node = node.func.value
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        else:
            return names


def _is_write(call: ast.Call) -> bool:
    if not isinstance(call.func, ast.Attribute) or call.func.attr not in WRITES:
        return False
    kind = call.func.attr
    if kind in {"save", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}:
        return True
    if set(_chain(call.func.value)) & QUERYSET:
        return True
    return kind == "delete" and not call.args and not call.keywords  # instance.delete()


def _allowed(relative: Path) -> bool:
    parts = relative.parts
    return (
        "tests" in parts
        or "migrations" in parts
        or parts[-1] == "actions.py"
        or "actions" in parts[:-1]
        or relative.as_posix() in EXCEPTIONS
    )


def writes_outside_actions() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if _allowed(relative):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and _is_write(node):
                assert isinstance(node.func, ast.Attribute)
                found.append(f"{relative.as_posix()}:{node.lineno} .{node.func.attr}()")
    return found


def test_no_orm_write_outside_the_actions():
    assert writes_outside_actions() == []


def test_every_listed_exception_still_writes():
    """An exception that no longer writes is removed from the list, so the list stays the truth."""
    stale = []
    for name in EXCEPTIONS:
        tree = ast.parse((PACKAGE / name).read_text())
        if not any(isinstance(node, ast.Call) and _is_write(node) for node in ast.walk(tree)):
            stale.append(name)
    assert stale == []


def test_the_scan_finds_a_write_in_a_view(monkeypatch):
    """The scan can fail: a view that saves a model is named with its line."""
    view = PACKAGE / "portal" / "example_write_view.py"
    monkeypatch.setattr(Path, "rglob", lambda self, pattern: iter([view]))
    monkeypatch.setattr(
        Path, "read_text", lambda self, *a, **k: "def post(request, s):\n    s.note = 'x'\n    s.save()\n"
    )
    assert writes_outside_actions() == ["portal/example_write_view.py:3 .save()"]
