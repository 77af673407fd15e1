from django.db import migrations

from megalayer.support.seed import seed


def forwards(apps, schema_editor):
    seed(apps.get_model("support", "Department"))


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
