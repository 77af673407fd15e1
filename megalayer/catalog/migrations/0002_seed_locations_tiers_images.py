"""Seed the locations, network tiers and OS images (megalayer/catalog/seed.py)."""

from django.db import migrations

from megalayer.catalog.seed import seed


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
