"""The customer's own data export (TOS-PRIVACY-1): the same collector as the legal export, all of the
customer's data, nobody else's, no secrets, checksums that match."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from django.test import Client

from megalayer.accounts.models import ApiToken
from megalayer.audit.models import AuditEvent
from megalayer.conftest import bearer
from megalayer.privacy.tests.conftest import rich_customer

pytestmark = pytest.mark.django_db
FILES = [
    "abuse_cases.json", "account.json", "affiliate.json", "api_tokens.json", "contacts.json", "invoices.json",
    "ip_history.json", "manifest.json", "notices.json", "payments.json", "services.json", "sign_ins.json",
    "tickets.json",
]  # fmt: skip


def _open(payload: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(payload))
    manifest = json.loads(archive.read("manifest.json"))
    for name, entry in manifest["files"].items():
        data = archive.read(name)
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["bytes"])
    return archive


def test_the_export_holds_all_of_my_data_and_none_of_anyone_else(
    rich_alice, bob, vps, django_capture_on_commit_callbacks
):
    rich_customer(bob, vps, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(rich_alice.owner)
    assert client.get("/account/privacy/export/").status_code == 404  # POST only: a link or prefetch makes none
    response = client.post("/account/privacy/export/")
    assert (response.status_code, response["Content-Type"]) == (200, "application/zip")
    assert response["Content-Disposition"] == f'attachment; filename="megalayer-{rich_alice.public_id}.zip"'
    archive = _open(response.content)
    assert sorted(archive.namelist()) == FILES
    account = json.loads(archive.read("account.json"))
    assert (account["email"], account["billing"]["name"], account["signup_ip"]) == (
        "alice@example.com", "Alice", "192.0.2.10",
    )  # fmt: skip
    assert json.loads(archive.read("contacts.json")) == [
        {"email": "carol@example.net", "name": "Carol Tech", "role": "technical"}
    ]
    [ticket] = json.loads(archive.read("tickets.json"))
    assert ticket["messages"][0]["body"] == "Hello, this is Alice Liddell, +852 5555 0101."
    assert ticket["messages"][0]["attachments"] == ["trace.txt"]
    assert [row["address"] for row in json.loads(archive.read("ip_history.json"))] == ["198.18.0.2"]
    assert {row["kind"] for row in json.loads(archive.read("notices.json"))} >= {"service_activated", "ticket_opened"}
    [token] = json.loads(archive.read("api_tokens.json"))
    assert token["name"] == "ci"
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"bob@example.com" not in everything
    assert ApiToken.objects.get(user=rich_alice.owner).secret_hash.encode() not in everything
    assert b"secret_hash" not in everything
    event = AuditEvent.objects.get(action="privacy.exported")
    assert (event.target_id, event.requirement) == (rich_alice.public_id, "TOS-PRIVACY-1")


def test_the_api_gives_each_token_its_own_customer_data(rich_alice, bob):
    mine = Client().get("/api/v1/privacy/export", **bearer(rich_alice.owner, scope="read"))
    assert mine.status_code == 200
    assert json.loads(_open(mine.content).read("account.json"))["customer"] == rich_alice.public_id
    theirs = Client().get("/api/v1/privacy/export", **bearer(bob.owner, scope="read"))
    assert json.loads(_open(theirs.content).read("account.json"))["customer"] == bob.public_id
    anonymous = Client().get("/api/v1/privacy/export")
    assert (anonymous.status_code, anonymous["Content-Type"]) == (401, "application/problem+json")


def test_staff_have_no_customer_data_to_export(staff_client, staff):
    assert staff_client.post("/account/privacy/export/").status_code == 404
    assert staff_client.get("/account/privacy/").status_code == 404
    assert Client().get("/api/v1/privacy/export", **bearer(staff)).status_code == 404
    assert not AuditEvent.objects.filter(action="privacy.exported").exists()
