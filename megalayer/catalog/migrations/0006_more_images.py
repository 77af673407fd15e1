"""CentOS Stream 9 and 10 and Windows Server 2025 join the catalog (TOS-OS-1); the seed is idempotent."""

from django.db import migrations

from megalayer.catalog.seed import seed


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_coupon_per_customer")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
