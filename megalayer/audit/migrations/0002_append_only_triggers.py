"""Refuse UPDATE and DELETE on audit events in the database itself (TOS-AUDIT-1).

Someone with DDL rights can still drop the trigger, which is why the hash chain
exists: ``megalayer audit verify`` finds the edit.
"""

from django.db import migrations

from megalayer.core.append_only import migration_operations


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migration_operations("audit_auditevent")]
