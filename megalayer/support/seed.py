"""The departments of TOS-TICKET-1, used by migration 0002 and by ``queries.departments`` (which restores them
if a flushed test database or a careless admin removed them)."""

from __future__ import annotations

from typing import Any

DEPARTMENTS = [("sales", "Sales", 1), ("billing", "Billing", 2), ("technical", "Technical", 3), ("abuse", "Abuse", 4)]


def seed(department_model: Any) -> None:
    for code, name, order in DEPARTMENTS:
        department_model.objects.get_or_create(code=code, defaults={"name": name, "sort_order": order})
