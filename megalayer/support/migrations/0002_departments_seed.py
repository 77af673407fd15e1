from django.db import migrations

DEPARTMENTS = [("sales", "Sales", 1), ("billing", "Billing", 2), ("technical", "Technical", 3), ("abuse", "Abuse", 4)]


def seed(apps, schema_editor):
    Department = apps.get_model("support", "Department")
    for code, name, order in DEPARTMENTS:
        Department.objects.get_or_create(code=code, defaults={"name": name, "sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("support", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
