"""Postings and ledger transactions are immutable: corrections are reversing transactions (TOS-BAL-2)."""

from django.db import migrations

from megalayer.core.append_only import migration_operations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migration_operations("ledger_posting", "ledger_ledgertransaction")]
