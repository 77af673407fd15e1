"""Issue 14, item 15: driver credentials and operations' passwords are encrypted at rest, keys rotate."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Model

from megalayer.api.tests.test_servers_api import alice_server  # noqa: F401 (fixture)
from megalayer.catalog.models import Location
from megalayer.core import clock
from megalayer.core.crypto import InvalidToken
from megalayer.core.tests.test_settings import _load_settings
from megalayer.provisioning.models import Host, Operation

pytestmark = pytest.mark.django_db
TOKEN_VALUE = "0c4d1e2f-3a4b-5c6d-7e8f-proxmox-secret"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _raw(model: type[Model], column: str, pk: int) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [pk])
        value: str = cursor.fetchone()[0]
    return value


def _host() -> Host:
    return Host.objects.create(
        name="pve-1",
        driver="proxmox",
        parameters={"api_url": "https://pve.example:8006", "token_name": "root@pam!mgl", "token_value": TOKEN_VALUE},
        location=Location.objects.get(code="hkg"),
        capacity_vcpus=8,
        capacity_memory_gb=16,
        capacity_disk_gb=100,
        created_at=clock.now(),
    )


def test_host_parameters_are_ciphertext_in_the_database_and_a_dict_in_python():
    host = _host()
    raw = _raw(Host, "parameters", host.pk)
    assert raw.startswith("gAAAAA")  # a Fernet token
    assert TOKEN_VALUE not in raw
    assert "pve.example" not in raw
    assert Host.objects.get(pk=host.pk).parameters["token_value"] == TOKEN_VALUE
    # A dump carries the ciphertext too.
    out = io.StringIO()
    call_command("dumpdata", "provisioning.host", stdout=out)
    assert TOKEN_VALUE not in out.getvalue()
    assert json.loads(out.getvalue())[0]["fields"]["parameters"].startswith("gAAAAA")


@pytest.mark.usefixtures("alice_server")
def test_a_new_servers_root_password_is_ciphertext_and_emptying_it_still_queries():
    operation = Operation.objects.get(kind="create")
    password = operation.secrets["root_password"]
    assert len(password) >= 16
    assert password not in _raw(Operation, "secrets", operation.pk)
    assert list(Operation.objects.exclude(secrets={})) == [operation]
    Operation.objects.filter(pk=operation.pk).update(secrets={})
    assert _raw(Operation, "secrets", operation.pk) == ""
    assert Operation.objects.exclude(secrets={}).count() == 0
    assert Operation.objects.get(pk=operation.pk).secrets == {}


def test_rotation_re_encrypts_with_the_new_key_and_the_old_key_can_then_go(settings):
    settings.MEGALAYER_ENCRYPTION_KEYS = [OLD]
    host = _host()
    under_old = _raw(Host, "parameters", host.pk)
    settings.MEGALAYER_ENCRYPTION_KEYS = [NEW, OLD]
    out = io.StringIO()
    call_command("encryption", "rotate", stdout=out)
    assert out.getvalue().strip() == "re-encrypted 1 value(s) with the first key"
    assert _raw(Host, "parameters", host.pk) != under_old
    settings.MEGALAYER_ENCRYPTION_KEYS = [NEW]
    assert Host.objects.get(pk=host.pk).parameters["token_value"] == TOKEN_VALUE
    settings.MEGALAYER_ENCRYPTION_KEYS = [OLD]
    with pytest.raises(InvalidToken):
        Host.objects.get(pk=host.pk)


def test_rotation_without_the_old_key_stops_and_changes_nothing(settings):
    test_key = settings.MEGALAYER_ENCRYPTION_KEYS[0]  # anything else stored opens with it; only our host cannot
    settings.MEGALAYER_ENCRYPTION_KEYS = [OLD]
    host = _host()
    before = _raw(Host, "parameters", host.pk)
    settings.MEGALAYER_ENCRYPTION_KEYS = [NEW, test_key]  # the old key dropped too soon
    with pytest.raises(CommandError, match=f"provisioning.Host {host.pk}: no configured key opens its parameters"):
        call_command("encryption", "rotate", stdout=io.StringIO())
    assert _raw(Host, "parameters", host.pk) == before


def test_new_key_prints_a_usable_key():
    out = io.StringIO()
    call_command("encryption", "new-key", stdout=out)
    Fernet(out.getvalue().strip().encode())  # raises if it is not a key


def test_production_needs_a_valid_encryption_key():
    code = "import config.settings as s; print(len(s.MEGALAYER_ENCRYPTION_KEYS))"
    base = {"MEGALAYER_DEBUG": "false", "MEGALAYER_GATEWAYS": "stripe"}
    missing = _load_settings(code=code, MEGALAYER_ENCRYPTION_KEYS="", **base)
    assert missing.returncode == 1
    assert "ImproperlyConfigured: MEGALAYER_ENCRYPTION_KEYS must be set" in missing.stderr
    bad = _load_settings(code=code, MEGALAYER_ENCRYPTION_KEYS="not-a-key", **base)
    assert "is not a Fernet key" in bad.stderr
    good = _load_settings(code=code, MEGALAYER_ENCRYPTION_KEYS=f"{NEW},{OLD}", **base)
    assert (good.returncode, good.stdout.strip()) == (0, "2")


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_what_was_stored_in_clear_and_reverses():
    before, after = ("provisioning", "0002_hosts_servers_operations"), ("provisioning", "0003_encrypt_secrets_at_rest")
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("provisioning")
    try:
        _migrate_there_and_back(before, after)
    finally:  # whatever failed, the schema is left as every other test of this process expects it: the latest
        MigrationExecutor(connection).migrate(latest)


def _migrate_there_and_back(before: tuple[str, str], after: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state([before]).apps
    location = old.get_model("catalog", "Location").objects.get(code="hkg")
    clear = {"api_url": "https://pve.example:8006", "token_value": TOKEN_VALUE}
    host = old.get_model("provisioning", "Host").objects.create(
        name="pve-old", driver="proxmox", parameters=clear, location=location,
        capacity_vcpus=8, capacity_memory_gb=16, capacity_disk_gb=100, created_at=clock.now(),
    )  # fmt: skip
    old.get_model("provisioning", "Host").objects.create(
        name="pve-empty", driver="sandbox", parameters={}, location=location,
        capacity_vcpus=8, capacity_memory_gb=16, capacity_disk_gb=100, created_at=clock.now(),
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate([after])
    assert TOKEN_VALUE not in _raw(Host, "parameters", host.pk)
    assert Host.objects.get(pk=host.pk).parameters == clear
    assert Host.objects.get(name="pve-empty").parameters == {}

    executor = MigrationExecutor(connection)
    executor.migrate([before])
    reversed_raw: object = _raw(Host, "parameters", host.pk)  # PostgreSQL's driver gives jsonb as a dict
    assert (json.loads(reversed_raw) if isinstance(reversed_raw, str) else reversed_raw) == clear
