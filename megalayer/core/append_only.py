"""Database triggers that refuse UPDATE and DELETE on append-only tables.

Used by the migrations of the audit log and the ledger. The application refuses
such writes already; the triggers also stop a stray script, a raw query or an
ORM ``QuerySet.update()``.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION megalayer_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def trigger_name(table: str) -> str:
    return f"{table}_append_only"


def _statements_up(vendor: str, table: str) -> list[str]:
    name = trigger_name(table)
    if vendor == "postgresql":
        return [
            POSTGRES_FUNCTION,
            f"CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION megalayer_append_only();",
        ]
    if vendor == "sqlite":
        message = f"{table} rows are append-only"
        return [
            f"CREATE TRIGGER {name}_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END;",
            f"CREATE TRIGGER {name}_delete BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END;",
        ]
    return []


def _statements_down(vendor: str, table: str) -> list[str]:
    name = trigger_name(table)
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name} ON {table};"]
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}_update;", f"DROP TRIGGER IF EXISTS {name}_delete;"]
    return []


def install(schema_editor: BaseDatabaseSchemaEditor, *tables: str) -> None:
    for table in tables:
        for statement in _statements_up(schema_editor.connection.vendor, table):
            schema_editor.execute(statement, params=None)  # None: the '%' in the message is not a placeholder


def uninstall(schema_editor: BaseDatabaseSchemaEditor, *tables: str) -> None:
    for table in tables:
        for statement in _statements_down(schema_editor.connection.vendor, table):
            schema_editor.execute(statement, params=None)


def migration_operations(*tables: str) -> Any:
    """A ``RunPython`` operation that installs the triggers on ``tables`` (and removes them backwards)."""
    from django.db import migrations

    return migrations.RunPython(
        lambda apps, editor: install(editor, *tables),
        lambda apps, editor: uninstall(editor, *tables),
    )


# Every append-only table, so test fixtures can clear them before a flush.
APPEND_ONLY_TABLES = ("audit_auditevent", "ledger_posting", "ledger_ledgertransaction")
