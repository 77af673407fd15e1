"""``megalayer mail explain`` over real mail from public corpora (issue 16): bounces, ARF and X-ARF reports.

``mail_samples/expected.tsv`` gives each file's kind and, where the sample states one, the source address.
Bounce recipients are not listed there; a recipient counts as right when the message names it and it is not
the report's own sender (the mailer daemon).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

SAMPLES = Path(__file__).parent / "mail_samples"
ROWS = list(csv.DictReader((SAMPLES / "expected.tsv").open(), delimiter="\t"))

pytestmark = pytest.mark.django_db


def _explain(*files: Path) -> list[dict[str, object]]:
    out = io.StringIO()
    call_command("mail", "explain", *map(str, files), stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture(scope="module")
def explained(django_db_setup, django_db_blocker) -> dict[str, dict[str, object]]:
    with django_db_blocker.unblock():
        lines = _explain(*(SAMPLES / row["file"] for row in ROWS))
    return {str(Path(line["file"]).relative_to(SAMPLES)): line for line in lines}  # type: ignore[arg-type]


def test_every_sample_is_read_without_an_exception(explained):
    assert sorted(explained) == sorted(row["file"] for row in ROWS)
    assert all(isinstance(line["errors"], list) for line in explained.values())


def test_every_complaint_is_the_abuse_desks_and_every_stated_source_is_found(explained):
    complaints = [row for row in ROWS if row["kind"] == "abuse"]
    assert len(complaints) == 56
    for row in complaints:
        line = explained[row["file"]]
        assert line["kind"] == "abuse", row["file"]
        if row["ip"]:
            assert row["ip"] in line["ips"], (row["file"], line)


def test_at_least_95_percent_of_bounces_are_bounces_with_the_right_recipient(explained):
    bounces = [row for row in ROWS if row["kind"] == "bounce"]
    right = []
    for row in bounces:
        line = explained[row["file"]]
        raw = (SAMPLES / row["file"]).read_bytes().lower()
        sender = re.search(rb"^from:.*$", raw, re.MULTILINE)
        recipient = str(line["recipient"] or "")
        named = recipient.encode() in raw and recipient.encode() not in (sender.group(0) if sender else b"")
        right.append(line["kind"] == "bounce" and "@" in recipient and named)
    assert len(bounces) == 214
    assert sum(right) / len(bounces) >= 0.95, [r["file"] for r, ok in zip(bounces, right, strict=True) if not ok]


def test_each_arf_feedback_type_keeps_its_meaning(explained):
    auth_failure = explained["complaints/arf-19.eml"]
    assert (auth_failure["format"], auth_failure["actionable"], auth_failure["ips"]) == ("arf", False, ["203.0.113.2"])
    spam = explained["complaints/arf-01.eml"]
    assert (spam["format"], spam["category"], spam["actionable"]) == ("arf", "spam", True)


def test_the_formats_are_named(explained):
    formats = {line["format"] for name, line in explained.items() if name.startswith("xarf/")}
    assert formats == {"xarf-v1", "xarf-v2", "xarf-v3", "xarf-v4"}
    assert explained["complaints/arf-23.eml"]["format"] == "jmrp"
    assert explained["bounces/rfc3464-01.eml"]["format"] == "dsn"
    assert explained["bounces/lhost-qmail-01.eml"]["format"] == "qmail"


def test_an_xarf_json_document_on_its_own_and_an_unreadable_file(tmp_path):
    document = tmp_path / "report.json"
    document.write_text(json.dumps({
        "xarf_version": "4.2.0", "report_id": "r1", "timestamp": "2026-11-30T10:00:00Z",
        "reporter": {"org": "Example", "contact": "abuse@example.net", "domain": "example.net"},
        "sender": {"org": "Example", "contact": "abuse@example.net", "domain": "example.net"},
        "source_identifier": "2001:db8::25", "category": "connection", "type": "login_attack",
    }))  # fmt: skip
    missing = tmp_path / "missing.eml"
    out = io.StringIO()
    call_command("mail", "explain", str(document), str(missing), stdout=out)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert (first["kind"], first["format"], first["category"], first["ips"]) == (
        "abuse", "xarf-v4", "brute_force", ["2001:db8::25"]
    )  # fmt: skip
    assert first["occurred_at"] == "2026-11-30T10:00:00+00:00"
    assert second["kind"] is None
    assert "No such file" in second["errors"][0]


XARF_02 = (
    b"From: fail2ban@reporter.example\r\nTo: abuse@megalayer.example\r\nSubject: abuse report about 192.0.2.77\r\n"
    b"Date: Mon, 30 Nov 2026 10:05:00 +0000\r\nMessage-ID: <r1@reporter.example>\r\nX-XARF: PLAIN\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDear abuse team, see the report below.\r\n"
    b'--b\r\nContent-Type: text/plain; charset=utf-8; name="report.txt"\r\n\r\n'
    b"Reported-From: fail2ban@reporter.example\r\nCategory: abuse\r\nReport-Type: login-attack\r\nService: ssh\r\n"
    b"Version: 0.2\r\nUser-Agent: fail2ban\r\nDate: 2026-11-30T10:00:00+00:00\r\nSource-Type: ipv4\r\n"
    b"Source: 192.0.2.77\r\nPort: 22\r\nAttachment: text/plain\r\n"
    b'--b\r\nContent-Type: text/plain; name="logfile.log"\r\n\r\nsshd: Failed password for root from 192.0.2.77\r\n'
    b"--b--\r\n"
)


def test_xarf_0_2_yaml_is_read():
    from megalayer.cli.management.commands.mail import explain_bytes

    line = explain_bytes(XARF_02)
    assert (line["kind"], line["format"], line["category"], line["ips"], line["occurred_at"]) == (
        "abuse", "xarf-0.2", "brute_force", ["192.0.2.77"], "2026-11-30T10:00:00+00:00"
    )  # fmt: skip


def test_a_customer_writing_that_their_mail_was_rejected_is_not_a_bounce():
    from megalayer.cli.management.commands.mail import explain_bytes

    raw = (
        b"Return-Path: <carol@customer.example>\r\nFrom: Carol <carol@customer.example>\r\n"
        b"To: support@megalayer.example\r\nSubject: Undelivered mail: my mail to dave@partner.example was rejected\r\n"
        b"Message-ID: <c1@customer.example>\r\n\r\nHello, mail from my server to dave@partner.example is rejected"
        b" with 550 5.7.1. Can you help?\r\n"
    )
    line = explain_bytes(raw)
    assert (line["kind"], line["recipient"]) == ("unsorted", None)
