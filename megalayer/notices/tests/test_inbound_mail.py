"""Inbound mail: nothing lost (issue 16). Through the signed inbound-mail hook over the API, as the mail
server's pipe sends it; on PostgreSQL when the suite runs there (CI runs both)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from megalayer.abuse.models import AbuseCase, AbuseEvent, AbuseReport
from megalayer.core.signed_hooks import sign
from megalayer.network.models import NullRoute
from megalayer.notices.models import InboundMessage

pytestmark = pytest.mark.django_db
SECRET = "inbound-secret"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.MEGALAYER_INBOUND_MAIL_SECRET = SECRET
    settings.MEGALAYER_ABUSE_ADDRESSES = ["abuse@megalayer.example", "fbl@megalayer-mail.example"]


def _deliver(raw: bytes, envelope: str = "") -> Any:
    headers = {"X-Megalayer-Signature": sign(raw, SECRET)}
    if envelope:
        headers["X-Megalayer-Envelope-To"] = envelope
    return Client().post("/api/v1/hooks/inbound-mail", raw, content_type="message/rfc822", headers=headers)


def _mail(body: str, *, to: str = "undisclosed-recipients:;", message_id: str = "<m1@reporter.example>",
          content_type: str = "text/plain; charset=utf-8") -> bytes:  # fmt: skip
    return (
        f"From: Reporter <reports@reporter.example>\r\nTo: {to}\r\nSubject: Abuse from your network\r\n"
        f"Date: Tue, 01 Dec 2026 08:00:00 +0000\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n\r\n{body}\r\n"
    ).encode("utf-8", errors="surrogateescape")


def test_a_bccd_complaint_reaches_the_abuse_desk_by_its_envelope_recipient():
    raw = _mail("SSH brute force from 198.51.100.23 at 2026-12-01T07:00:00Z")
    assert _deliver(raw, envelope="fbl@megalayer-mail.example").status_code == 200
    stored = InboundMessage.objects.get(sha256=hashlib.sha256(raw).hexdigest())
    assert (stored.kind, stored.envelope_recipients, bytes(stored.raw)) == ("abuse", "fbl@megalayer-mail.example", raw)
    report = AbuseReport.objects.get(sha256=stored.sha256)
    assert stored.outcome == f"abuse report {report.public_id}"
    assert list(report.events.values_list("address", flat=True)) == ["198.51.100.23"]


def test_without_the_envelope_the_same_mail_is_kept_unsorted_and_staff_can_file_it(staff_client):
    raw = _mail("SSH brute force from 198.51.100.23 at 2026-12-01T07:00:00Z")
    assert _deliver(raw).json() == {"outcome": "unsorted: waiting for staff"}
    stored = InboundMessage.objects.get()
    assert (stored.kind, stored.handled_at) == ("unsorted", None)
    assert AbuseReport.objects.count() == 0
    inbox = staff_client.get("/backoffice/inbound-mail/")
    assert stored.public_id in inbox.content.decode()
    staff_client.post(f"/backoffice/inbound-mail/{stored.public_id}/", {"action": "abuse"})
    stored.refresh_from_db()
    report = AbuseReport.objects.get(sha256=stored.sha256)
    assert (stored.kind, stored.outcome, stored.handled_by) == ("abuse", f"abuse report {report.public_id}",
                                                                "staff@megalayer.test")  # fmt: skip


def test_an_unknown_charset_is_read_with_replacement_and_stored(staff_client):
    raw = _mail("Port scan from 203.0.113.45 \xff\xfe (r\xe9seau)", to="abuse@megalayer.example",
                content_type="text/plain; charset=unknown-8bit")  # fmt: skip
    raw = raw.replace("\xff\xfe".encode("utf-8", "surrogateescape"), b"\xff\xfe")
    assert _deliver(raw).status_code == 200
    report = AbuseReport.objects.get()
    assert (report.parser, report.parse_error) == ("freetext", "")
    assert list(report.events.values_list("address", flat=True)) == ["203.0.113.45"]
    stored = InboundMessage.objects.get()
    page = staff_client.get(f"/backoffice/inbound-mail/{stored.public_id}/")
    assert page.status_code == 200
    assert "203.0.113.45" in page.content.decode()


def test_a_reused_message_id_with_other_content_is_another_message_and_the_same_bytes_are_one():
    first = _mail("Spam from 198.51.100.23", to="abuse@megalayer.example", message_id="<same@reporter.example>")
    second = _mail("Spam from 203.0.113.45", to="abuse@megalayer.example", message_id="<same@reporter.example>")
    assert _deliver(first).json()["outcome"].startswith("abuse report ")
    assert _deliver(second).json()["outcome"].startswith("abuse report ")
    assert _deliver(first).json() == {"outcome": "duplicate"}
    assert InboundMessage.objects.count() == 2
    assert sorted(AbuseEvent.objects.values_list("address", flat=True)) == ["198.51.100.23", "203.0.113.45"]


ARF = (
    b"From: fbl@untrusted.example\r\nTo: someone@elsewhere.example\r\nSubject: FW: spam\r\n"
    b"Date: Tue, 01 Dec 2026 08:00:00 +0000\r\nMessage-ID: <arf1@untrusted.example>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n"
    b"--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n"
    b"Source-IP: 203.0.113.45\r\nArrival-Date: Tue, 01 Dec 2026 07:00:00 +0000\r\n\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: buy\r\n\r\nnow\r\n--b--\r\n"
)


def test_an_arf_report_sent_to_any_address_is_a_complaint_and_a_forged_one_sets_off_no_measure():
    assert _deliver(ARF).json()["outcome"].startswith("abuse report ")
    report = AbuseReport.objects.get()
    assert (report.parser, report.trusted, report.needs_triage) == ("arf", "", True)
    assert list(report.events.values_list("address", "confirmed")) == [("203.0.113.45", False)]
    assert AbuseCase.objects.count() == 0
    assert NullRoute.objects.count() == 0


def test_the_postfix_pipe_delivers_a_bccd_complaint_over_http_with_its_envelope(live_server):
    """The real path: Postfix's pipe (contrib/postfix/megalayer-inbound.py) → HTTP → the hook → the abuse desk."""
    script = Path(__file__).resolve().parents[3] / "contrib" / "postfix" / "megalayer-inbound.py"
    raw = _mail("Port scan from 198.51.100.23 at 2026-12-01T06:00:00Z", message_id="<pipe@reporter.example>")
    environment = {
        **os.environ,
        "MEGALAYER_HOOK_URL": f"{live_server.url}/api/v1/hooks/inbound-mail",
        "MEGALAYER_INBOUND_MAIL_SECRET": SECRET,
    }
    result = subprocess.run(
        [sys.executable, str(script), "fbl@megalayer-mail.example"],
        input=raw, capture_output=True, env=environment, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stored = InboundMessage.objects.get(sha256=hashlib.sha256(raw).hexdigest())
    report = AbuseReport.objects.get(sha256=stored.sha256)
    assert json.loads(result.stdout) == {"outcome": f"abuse report {report.public_id}"}
    assert (stored.kind, stored.envelope_recipients) == ("abuse", "fbl@megalayer-mail.example")
