"""SSH keys (issue 18): kept in the account with the fingerprint ssh-keygen shows, validated, chosen at order
and reinstall, and given to root by the driver (the sandbox keeps what cloud-init would write)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed25519, rsa

from megalayer.accounts.models import SshKey
from megalayer.billing.tests.conftest import fund
from megalayer.conformance.tests.steps import customer_api
from megalayer.provisioning.models import Operation, SandboxMachine, Server
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db


def _public(key: object, comment: str = "alice@laptop") -> str:
    line = key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{line.decode()} {comment}"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (openssh-client) is not installed")
def test_a_key_is_kept_with_the_fingerprint_ssh_keygen_shows(alice, tmp_path: Path):
    api = customer_api(alice)
    line = _public(ed25519.Ed25519PrivateKey.generate())
    added = api.post("/ssh-keys", {"name": "laptop", "public_key": f"  {line}\n"})
    assert added.status_code == 201, added.content
    (tmp_path / "key.pub").write_text(line + "\n")
    shown = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "key.pub")], capture_output=True, text=True, check=True)
    bits, fingerprint = shown.stdout.split()[:2]
    body = added.json()
    assert (body["type"], body["bits"], body["fingerprint"], body["public_key"]) == (
        "ssh-ed25519",
        int(bits),
        fingerprint,
        line,
    )
    assert [k["name"] for k in api.get("/ssh-keys").json()] == ["laptop"]


def test_bad_keys_are_refused_with_the_field_and_nothing_kept(alice, bob):
    api = customer_api(alice)
    private = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    good = _public(ed25519.Ed25519PrivateKey.generate())
    attempts = [
        {"name": "junk", "public_key": "ssh-ed25519 not-base64!!"},
        {"name": "unknown type", "public_key": "ssh-foo AAAA"},  # found by schemathesis: was a 500
        {"name": "private", "public_key": private.decode()},
        {"name": "short rsa", "public_key": _public(rsa.generate_private_key(public_exponent=65537, key_size=1024))},
        {"name": "dsa", "public_key": _public(dsa.generate_private_key(key_size=1024))},
        {"name": "two", "public_key": good + "\n" + good},
        {"name": "", "public_key": good},
    ]
    refused = [api.post("/ssh-keys", body) for body in attempts]
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in refused] == [
        (422, "public_key"),
        (422, "public_key"),
        (422, "public_key"),
        (422, "public_key"),
        (422, "public_key"),
        (422, "public_key"),
        (422, "name"),
    ]
    assert "private key" in refused[2].json()["detail"]
    assert not SshKey.objects.exists()
    assert api.post("/ssh-keys", {"name": "laptop", "public_key": good}).status_code == 201
    twice = api.post("/ssh-keys", {"name": "other", "public_key": good})
    assert (twice.status_code, twice.json()["errors"][0]["field"]) == (422, "public_key")
    assert customer_api(bob).post("/ssh-keys", {"name": "laptop", "public_key": good}).status_code == 201
    key_id = api.get("/ssh-keys").json()[0]["id"]
    assert customer_api(bob).client.delete(f"/api/v1/ssh-keys/{key_id}", **customer_api(bob).headers).status_code == 404
    assert SshKey.objects.count() == 2


def test_keys_chosen_at_order_and_reinstall_reach_root(alice, bob, vps, django_capture_on_commit_callbacks):
    api = customer_api(alice)
    first, second = (_public(ed25519.Ed25519PrivateKey.generate(), c) for c in ("laptop", "desktop"))
    laptop = api.post("/ssh-keys", {"name": "laptop", "public_key": first}).json()["id"]
    desktop = api.post("/ssh-keys", {"name": "desktop", "public_key": second}).json()["id"]
    bobs = (
        customer_api(bob)
        .post("/ssh-keys", {"name": "b", "public_key": _public(ed25519.Ed25519PrivateKey.generate())})
        .json()["id"]
    )
    with_billing(alice)
    foreign = api.post("/orders", {"product": vps.code, "ssh_keys": [bobs]})
    assert (foreign.status_code, foreign.json()["errors"][0]["field"]) == (422, "ssh_keys")
    assert api.get("/orders").json() == []

    fund(alice, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        placed = api.post("/orders", {"product": vps.code, "os_image": "debian-12", "ssh_keys": [laptop]})
    service_id = placed.json()["service"]
    server = Server.objects.get(service__public_id=service_id)
    assert SandboxMachine.objects.get(name=server.name).authorized_keys == [first]
    create = Operation.objects.get(service__public_id=service_id, kind="create")
    assert create.parameters["ssh_keys"] == [first]
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(
            f"/services/{service_id}/reinstall",
            {"os_image": "ubuntu-24-04", "confirm_erase": True, "ssh_keys": [desktop, laptop]},
        )
    assert again.status_code == 202, again.content
    assert SandboxMachine.objects.get(name=server.name).authorized_keys == [second, first]
    with django_capture_on_commit_callbacks(execute=True):
        fund(alice, "5.00")
        kept = api.post(f"/services/{service_id}/reinstall", {"os_image": "debian-12", "confirm_erase": True})
    assert kept.status_code == 202
    assert SandboxMachine.objects.get(name=server.name).authorized_keys == [second, first]  # the same keys
