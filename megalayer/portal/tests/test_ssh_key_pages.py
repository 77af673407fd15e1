"""SSH keys in the client area (issue 18): kept with their fingerprint, a bad one refused with the reason and
nothing kept, offered at order and reinstall, shown on the server page."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from megalayer.accounts.models import SshKey
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import OsImage
from megalayer.provisioning.models import SandboxMachine, Server
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db


def _public(comment: str) -> str:
    line = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    return f"{line.decode()} {comment}"


def test_keys_are_kept_chosen_at_order_and_reinstall_and_shown(
    alice, alice_client, vps, django_capture_on_commit_callbacks
):
    bad = alice_client.post("/account/security/ssh-keys/", {"name": "laptop", "public_key": "ssh-rsa nonsense"})
    assert bad.status_code == 422
    assert "This is not an OpenSSH public key." in bad.content.decode()
    assert not SshKey.objects.exists()
    laptop, desktop = _public("alice@laptop"), _public("alice@desktop")
    for name, line in (("laptop", laptop), ("desktop", desktop)):
        assert alice_client.post("/account/security/ssh-keys/", {"name": name, "public_key": line}).status_code == 302
    page = alice_client.get("/account/security/ssh-keys/").content.decode()
    fingerprints = list(SshKey.objects.order_by("name").values_list("fingerprint", flat=True))
    assert all(f in page for f in fingerprints)

    with_billing(alice)
    fund(alice, "10.00")
    order_page = alice_client.get(f"/account/order/{vps.code}/").content.decode()
    assert "SSH keys for root" in order_page
    laptop_id = SshKey.objects.get(name="laptop").public_id
    with django_capture_on_commit_callbacks(execute=True):
        placed = alice_client.post(
            f"/account/order/{vps.code}/",
            {"cycle": "monthly", "os_image": OsImage.objects.get(code="debian-12").pk, "ssh_keys": [laptop_id]},
        )
    assert placed.status_code == 302, placed.content.decode()[-3000:]
    service = Service.objects.get(customer=alice)
    server = Server.objects.get(service=service)
    assert SandboxMachine.objects.get(name=server.name).authorized_keys == [laptop]
    url = f"/account/services/{service.public_id}/"
    shown = alice_client.get(url).content.decode()
    assert 'data-testid="server-keys">alice@laptop</dd>' in shown
    desktop_id = SshKey.objects.get(name="desktop").public_id
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            url,
            {
                "action": "reinstall",
                "os_image": "debian-12",
                "confirm_erase": "yes",
                "ssh_keys": [desktop_id],
                "request_id": "r1",
            },
        )
    assert SandboxMachine.objects.get(name=server.name).authorized_keys == [desktop]
    assert 'data-testid="server-keys">alice@desktop</dd>' in alice_client.get(url).content.decode()
