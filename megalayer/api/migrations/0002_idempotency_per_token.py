# Issue 14: idempotency replays bound to the token, secrets never stored.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_customer_erased_at"),
        ("api", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Records made before replays were bound to tokens may hold secrets (issue 14): they go. They only live
        # 24 hours; a client retrying across the upgrade meets no record, as after a key's expiry.
        migrations.RunSQL("DELETE FROM api_idempotencyrecord", migrations.RunSQL.noop),
        migrations.RemoveConstraint(
            model_name="idempotencyrecord",
            name="idempotency_key_once_per_user",
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="token",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.apitoken"
            ),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="withheld",
            field=models.BooleanField(default=False),
        ),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.UniqueConstraint(fields=("token", "key"), name="idempotency_key_once_per_token"),
        ),
    ]
