"""Bounces (issue 6, must-show 5, first half): a Postfix DSN through the inbound-mail hook flags the address,
marks the notice not delivered, prompts at the next sign-in, shows staff who cannot be reached; a
re-verified address clears it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from megalayer.accounts.models import User
from megalayer.core.signed_hooks import sign
from megalayer.notices.actions import notice_create
from megalayer.notices.models import Notice

pytestmark = pytest.mark.django_db
SECRET = "inbound-secret"
DSN = (Path(__file__).parent / "fixtures" / "bounce-postfix.eml").read_bytes()


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.MEGALAYER_INBOUND_MAIL_SECRET = SECRET


def _deliver(raw: bytes, secret: str = SECRET) -> Any:
    return Client().post(
        "/api/v1/hooks/inbound-mail", raw, content_type="message/rfc822", HTTP_X_MEGALAYER_SIGNATURE=sign(raw, secret)
    )


def test_a_bounce_flags_the_address_and_the_next_sign_in_prompts(alice, staff_client, terms_v1):
    notice = notice_create(
        kind="invoice_issued",
        recipient="alice@example.com",
        customer=alice,
        dedupe_key="t1",
        subject="Invoice INV-000001 issued",
        body_text="Your invoice.",
        body_html="",
    )
    raw = DSN.replace(b"NOTICE_ID", notice.public_id.encode())
    assert _deliver(raw, secret="wrong").status_code == 422
    assert User.objects.get(pk=alice.owner.pk).email_bounced_at is None
    response = _deliver(raw)
    assert response.json() == {"outcome": "bounced: 1"}
    assert _deliver(raw).json() == {"outcome": "duplicate"}
    owner = User.objects.get(pk=alice.owner.pk)
    assert owner.email_bounced_at is not None
    notice.refresh_from_db()
    assert notice.status == "failed"
    assert notice.last_error.startswith("bounced: 5.1.1 550 5.1.1 <alice@example.com>: Recipient address rejected")
    client = Client()
    client.force_login(owner)
    page = client.get("/account/").content.decode()
    assert "Mail to alice@example.com bounced on" in page
    assert "Fix my e-mail address" in page
    history = client.get("/account/notices/").content.decode()
    assert "Not delivered" in history
    assert "your address bounced" in history
    unreachable = staff_client.get("/backoffice/customers/?unreachable=1").content.decode()
    assert "alice@example.com" in unreachable
    assert "unreachable" in unreachable
    # Re-verifying the address clears the flag (allauth's email_confirmed signal).
    from allauth.account.models import EmailAddress
    from allauth.account.signals import email_confirmed

    address, _ = EmailAddress.objects.get_or_create(user=owner, email=owner.email, defaults={"primary": True})
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)
    assert User.objects.get(pk=owner.pk).email_bounced_at is None
    assert "bounced on" not in client.get("/account/").content.decode()


def test_a_temporary_failure_and_an_ordinary_mail_change_nothing(alice, terms_v1):
    delayed = DSN.replace(b"Action: failed", b"Action: delayed").replace(b"Status: 5.1.1", b"Status: 4.4.1")
    delayed = delayed.replace(b"Message-Id: <2027", b"Message-Id: <delayed-2027")
    assert _deliver(delayed).json() == {"outcome": "no permanent failure"}
    plain = (
        b"From: someone@example.org\r\nTo: support@megalayer.example\r\nSubject: hi\r\n"
        b"Message-ID: <x1@example.org>\r\n\r\nhello\r\n"
    )
    assert _deliver(plain).json()["outcome"] == "unsorted: waiting for staff"
    assert User.objects.get(pk=alice.owner.pk).email_bounced_at is None
    assert not Notice.objects.filter(status="failed").exists()


@pytest.mark.django_db(transaction=True)
def test_the_postfix_pipe_script_signs_what_the_hook_checks(alice, live_server, terms_v1):
    import json
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[3] / "contrib" / "postfix" / "megalayer-inbound.py"
    result = subprocess.run(
        [sys.executable, str(script)],
        input=DSN,
        capture_output=True,
        env={
            **os.environ,  # the clock of the test run (MEGALAYER_TEST_AT) reaches the script too
            "MEGALAYER_HOOK_URL": f"{live_server.url}/api/v1/hooks/inbound-mail",
            "MEGALAYER_INBOUND_MAIL_SECRET": SECRET,
        },
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"outcome": "bounced: 1"}
    assert User.objects.get(pk=alice.owner.pk).email_bounced_at is not None
