"""Host parameters and operation secrets become encrypted text (issue 14, item 15).

The columns turn from JSON into text, then every stored value is encrypted in place with the first key of
``MEGALAYER_ENCRYPTION_KEYS`` (raw SQL: the model field would try to decrypt the plain JSON). Reversible.
"""

import json

from django.db import migrations

import megalayer.core.fields
from megalayer.core import crypto

COLUMNS = [("provisioning_host", "parameters"), ("provisioning_operation", "secrets")]


def _rewrite(schema_editor, change):
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, column in COLUMNS:
            cursor.execute(f"SELECT id, {quote(column)} FROM {quote(table)}")  # noqa: S608 (names from COLUMNS)
            for pk, value in cursor.fetchall():
                sql = f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s"  # noqa: S608 (names from COLUMNS)
                cursor.execute(sql, [change(value), pk])


def encrypt(apps, schema_editor):
    def change(value):
        data = json.loads(value) if value else {}
        return crypto.encrypt(json.dumps(data, sort_keys=True).encode()) if data else ""

    _rewrite(schema_editor, change)


def decrypt(apps, schema_editor):
    _rewrite(schema_editor, lambda value: crypto.decrypt(value).decode() if value else "{}")


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0002_hosts_servers_operations"),
    ]

    operations = [
        migrations.AlterField(
            model_name="host",
            name="parameters",
            field=megalayer.core.fields.EncryptedJSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="operation",
            name="secrets",
            field=megalayer.core.fields.EncryptedJSONField(
                blank=True,
                default=dict,
                help_text="Passwords for the driver, encrypted; emptied when the operation ends.",
            ),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]
