"""Abuse intake (issue 7, must-show 1): the shared samples and a corpus of our own (22 messages: ARF and
X-ARF variants, free text, IPv6, malformed MIME, addresses that are not ours, an address that changed
hands) are stored unchanged, parsed and attributed as expected; nothing is lost, nothing is a 500."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from megalayer.abuse.actions import report_receive
from megalayer.abuse.models import AbuseCase, AbuseEvent, AbuseReport
from megalayer.catalog.models import Location, NetworkTier
from megalayer.core import clock
from megalayer.core.signed_hooks import sign
from megalayer.network.models import IpAssignment, Prefix
from megalayer.notices.models import Notice
from megalayer.services.models import Service

pytestmark = pytest.mark.django_db
CORPUS = Path(__file__).parent / "corpus"
# What the tests' mail server (settings_test: MEGALAYER_MAIL_AUTHSERV_ID) adds to a message whose DKIM
# signature it verified; the reporters of these samples are trusted (conftest.py), so their structured
# reports act on their own. abuse/tests/test_trust.py covers the reporters that are not.
AUTHENTICATED = "Authentication-Results: mx.megalayer.test; dkim=pass header.d={domain}\r\n"


def corpus(name: str) -> bytes:
    """A sample as our mail server delivers it: with its verdict on the sender's DKIM signature on top."""
    raw = (CORPUS / name).read_bytes()
    sender = re.search(rb"^From:.*@([A-Za-z0-9.-]+)>", raw, re.M)
    return AUTHENTICATED.format(domain=sender.group(1).decode() if sender else "").encode() + raw


UTC = dt.UTC


def _service(customer: Any, vps: Any) -> Service:
    return Service.objects.create(
        customer=customer, product=vps, cycle="monthly", recurring_amount=10, currency="USD", anchor_day=1,
        paid_until=dt.datetime(2027, 1, 1, tzinfo=UTC), created_at=dt.datetime(2026, 10, 1, tzinfo=UTC),
        status="active",
    )  # fmt: skip


def _hold(prefix: Prefix, address: str, service: Service, start: dt.datetime, end: dt.datetime | None = None) -> None:
    IpAssignment.objects.create(
        prefix=prefix, address=address, service=service, customer=service.customer, assigned_at=start,
        released_at=end, quarantine_until=end,
    )  # fmt: skip


@pytest.fixture
def network(alice, bob, vps):
    where = {"location": Location.objects.get(code="hkg"), "tier": NetworkTier.objects.get(code="premium")}
    v4 = Prefix.objects.create(cidr="203.0.113.0/24", family=4, **where)
    v4b = Prefix.objects.create(cidr="198.51.100.0/24", family=4, **where)
    v6 = Prefix.objects.create(cidr="2001:db8:4a2::/48", family=6, **where)
    alice_srv, bob_srv = _service(alice, vps), _service(bob, vps)
    # 203.0.113.45 was bob's until 20 November, alice's since the 21st: it changed hands.
    _hold(v4, "203.0.113.45", bob_srv, dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 11, 20, tzinfo=UTC))
    _hold(v4, "203.0.113.45", alice_srv, dt.datetime(2026, 11, 21, tzinfo=UTC))
    _hold(v4b, "198.51.100.23", bob_srv, dt.datetime(2026, 10, 1, tzinfo=UTC))
    _hold(v6, "2001:db8:4a2::15", alice_srv, dt.datetime(2026, 10, 1, tzinfo=UTC))
    _hold(v6, "2001:db8:4a2::99", bob_srv, dt.datetime(2026, 10, 1, tzinfo=UTC))
    return {"alice": alice_srv, "bob": bob_srv}


def _mail(body: str, *, subject: str = "Complaint", headers: str = "", date: str = "Wed, 25 Nov 2026 10:00:00 +0000",
          content_type: str = "text/plain; charset=utf-8") -> bytes:  # fmt: skip
    return (
        AUTHENTICATED.format(domain="complainer.example")
        + f"From: Reporter <reports@complainer.example>\r\nTo: abuse@megalayer.example\r\nSubject: {subject}\r\n"
        f"Date: {date}\r\nMessage-ID: <{hashlib.sha1(body.encode()).hexdigest()}@complainer.example>\r\n"
        f"MIME-Version: 1.0\r\n{headers}Content-Type: {content_type}\r\n\r\n{body}"
    ).encode("utf-8", errors="surrogateescape")


def _arf(source: str, *, feedback: str = "abuse", arrival: str = "Tue, 24 Nov 2026 07:58:41 +0000") -> bytes:
    fields = f"Feedback-Type: {feedback}\r\nVersion: 1\r\nArrival-Date: {arrival}\r\n"
    fields += f"Source-IP: {source}\r\n" if source else ""
    body = (
        "--b1\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n"
        f"--b1\r\nContent-Type: message/feedback-report\r\n\r\n{fields}\r\n"
        "--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: spam\r\n\r\nbuy now\r\n--b1--\r\n"
    )
    return _mail(body, content_type='multipart/report; report-type=feedback-report; boundary="b1"')


def _xarf(report: dict[str, Any] | str, *, version: str = "3") -> bytes:
    document = report if isinstance(report, str) else json.dumps({"Version": version, "Report": report})
    body = (
        "--x1\r\nContent-Type: text/plain\r\n\r\nSee the attached report.\r\n"
        f'--x1\r\nContent-Type: application/json\r\nContent-Disposition: attachment; filename="xarf.json"\r\n\r\n'
        f"{document}\r\n--x1--\r\n"
    )
    return _mail(body, headers="X-XARF: PLAIN\r\n", content_type='multipart/mixed; boundary="x1"')


T = dt.datetime
SAMPLES = [
    # name, raw, parser, [(address, category, confirmed, holder, occurred_at)], triage
    ("sample arf", corpus("arf-spam.eml"), "arf",
     [("203.0.113.45", "spam", True, "alice", T(2026, 11, 24, 7, 58, 41, tzinfo=UTC))], False),
    ("sample xarf", corpus("xarf-portscan.eml"), "xarf",
     [("198.51.100.23", "scanning", True, "bob", T(2026, 11, 25, 12, 47, 3, tzinfo=UTC))], False),
    ("sample free text, IPv6", corpus("freetext-copyright.eml"), "freetext",
     [("2001:db8:4a2::15", "copyright", False, "alice", T(2026, 11, 25, 21, 14, tzinfo=UTC))], True),
    ("arf IPv6", _arf("2001:db8:4a2::99"), "arf",
     [("2001:db8:4a2::99", "spam", True, "bob", T(2026, 11, 24, 7, 58, 41, tzinfo=UTC))], False),
    ("arf fraud is phishing", _arf("203.0.113.45", feedback="fraud"), "arf",
     [("203.0.113.45", "phishing", True, "alice", T(2026, 11, 24, 7, 58, 41, tzinfo=UTC))], False),
    ("arf before the address changed hands", _arf("203.0.113.45", arrival="Mon, 16 Nov 2026 03:00:00 +0000"), "arf",
     [("203.0.113.45", "spam", True, "bob", T(2026, 11, 16, 3, 0, tzinfo=UTC))], False),
    ("arf between holders: nobody", _arf("203.0.113.45", arrival="Fri, 20 Nov 2026 12:00:00 +0000"), "arf",
     [("203.0.113.45", "spam", True, None, T(2026, 11, 20, 12, 0, tzinfo=UTC))], True),
    ("arf not our address", _arf("192.0.2.77"), "arf",
     [("192.0.2.77", "spam", True, None, T(2026, 11, 24, 7, 58, 41, tzinfo=UTC))], True),
    ("arf without Source-IP", _arf(""), "arf", [], True),
    ("xarf login attack", _xarf({"ReportClass": "Activity", "ReportType": "LoginAttack", "SourceIp": "198.51.100.23",
                                 "Date": "2026-11-25T01:02:03Z"}), "xarf",
     [("198.51.100.23", "brute_force", True, "bob", T(2026, 11, 25, 1, 2, 3, tzinfo=UTC))], False),
    ("xarf ddos over IPv6", _xarf({"ReportClass": "Activity", "ReportType": "DDoS", "SourceIp": "2001:db8:4a2::15",
                                   "Date": "2026-11-25T05:00:00+08:00"}), "xarf",
     [("2001:db8:4a2::15", "dos", True, "alice", T(2026, 11, 24, 21, 0, tzinfo=UTC))], False),
    # An unreadable X-ARF attachment does not turn off the free-text reading (issue 16).
    ("xarf broken json", _xarf("{not json"), "freetext", [], True),
    ("xarf without SourceIp", _xarf({"ReportClass": "Activity", "ReportType": "PortScan"}), "xarf", [], True),
    ("json schema version 2 is read too", _xarf({"SourceIp": "198.51.100.23"}, version="2"), "xarf",
     [("198.51.100.23", "other", True, "bob", T(2026, 11, 25, 10, 0, tzinfo=UTC))], False),
    ("free text, two addresses, one ours", _mail("Spam came from 198.51.100.23 and 192.0.2.9 on 2026-11-25 10:30 UTC."),
     "freetext", [("198.51.100.23", "spam", False, "bob", T(2026, 11, 25, 10, 30, tzinfo=UTC)),
                  ("192.0.2.9", "spam", False, None, T(2026, 11, 25, 10, 30, tzinfo=UTC))], True),
    ("free text, no time: the mail's date", _mail("Phishing site hosted at 203.0.113.45, please remove."),
     "freetext", [("203.0.113.45", "phishing", False, "alice", T(2026, 11, 25, 10, 0, tzinfo=UTC))], True),
    ("free text, no address", _mail("Your network sends us garbage. Stop it."), "freetext", [], True),
    ("base64 body", _mail(base64.b64encode(b"Port scan from 198.51.100.23 at 2026-11-25T08:00:00Z").decode(),
                          headers="Content-Transfer-Encoding: base64\r\n"), "freetext",
     [("198.51.100.23", "scanning", False, "bob", T(2026, 11, 25, 8, 0, tzinfo=UTC))], True),
    ("latin-1 text", _mail("Brute force attack (tentatives répétées) de 198.51.100.23",
                           content_type="text/plain; charset=iso-8859-1").replace("é".encode(), b"\xe9"),
     "freetext", [("198.51.100.23", "brute_force", False, "bob", T(2026, 11, 25, 10, 0, tzinfo=UTC))], True),
    ("malformed MIME, no closing boundary", _mail("--z\r\nContent-Type: text/plain\r\n\r\nDDoS from 203.0.113.45",
                                                  content_type='multipart/mixed; boundary="z"'),
     "freetext", [("203.0.113.45", "dos", False, "alice", T(2026, 11, 25, 10, 0, tzinfo=UTC))], True),
    ("not an e-mail at all", b"\x00\xff\xfe garbage \x01 198.51.100.23 \x02", "freetext",
     [("198.51.100.23", "other", False, "bob", None)], True),
    ("headers only", b"From: a@b.example\r\nSubject: nothing\r\n\r\n", "freetext", [], True),
    ("html only", _mail("<p>Malware served from <b>203.0.113.45</b></p>", content_type="text/html; charset=utf-8"),
     "freetext", [("203.0.113.45", "hacking", False, "alice", T(2026, 11, 25, 10, 0, tzinfo=UTC))], True),
    ("invalid dotted quad is no address", _mail("Scan from 999.1.2.3 and 1.2.3.4.5 seen."), "freetext", [], True),
]  # fmt: skip


@pytest.mark.parametrize(("name", "raw", "parser", "expected", "triage"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_parsed_and_attributed(network, name, raw, parser, expected, triage):
    with clock.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)):
        report, created = report_receive(raw=raw, source="mail")
    assert created is True
    assert bytes(report.raw) == raw
    assert report.sha256 == hashlib.sha256(raw).hexdigest()
    assert report.parser == parser, report.parse_error
    got = []
    for event in AbuseEvent.objects.filter(report=report).order_by("id"):
        holder = event.assignment.customer.owner.email.split("@")[0] if event.assignment else None
        when = None if expected and expected[0][4] is None else event.occurred_at
        got.append((event.address, event.category, event.confirmed, holder, when))
    assert got == expected
    assert report.needs_triage is triage
    for event in AbuseEvent.objects.filter(report=report):
        assert (event.case is not None) is (event.confirmed and event.assignment is not None)
        if event.case is not None and event.assignment is not None:
            assert event.case.service == network[event.assignment.customer.owner.email.split("@")[0]]


def test_the_corpus_is_large_enough():
    own = [s for s in SAMPLES if not s[0].startswith("sample")]
    assert len(own) >= 20


def test_one_case_per_service_and_category_and_the_customer_is_told_once(network, settings):
    raws = [_arf("203.0.113.45", arrival=f"Tue, 24 Nov 2026 0{h}:00:00 +0000") for h in range(1, 6)]
    with clock.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)):
        for raw in raws:
            report_receive(raw=raw, source="mail")
        report_receive(raw=raws[0], source="mail")  # the same report again: nothing new
    case = AbuseCase.objects.get()
    assert (case.service, case.category, case.events.count()) == (network["alice"], "spam", 5)
    assert case.deadline_at == dt.datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 24 h, from the Terms
    mails = Notice.objects.filter(kind="abuse_case")
    assert [m.recipient for m in mails] == ["alice@example.com"]
    assert AbuseReport.objects.count() == 5


def test_the_complainant_is_redacted_in_what_the_customer_gets(network):
    raw = _mail("Spam from 203.0.113.45. Contact me: jane.doe@victim.example or +44 20 7946 0958.")
    raw = raw.replace(b"Spam from", b"Spam from")
    from megalayer.abuse.actions import case_for

    with clock.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)):
        report, _ = report_receive(raw=raw, source="mail")
        case_for(service=network["alice"], category="spam", report=report)
    body = Notice.objects.get(kind="abuse_case").body_text
    assert "jane.doe@victim.example" not in body
    assert "7946" not in body
    assert "[redacted e-mail]" in body


def test_the_abuse_mailbox_through_the_inbound_hook(network, settings):
    settings.MEGALAYER_INBOUND_MAIL_SECRET = "s"
    raw = corpus("xarf-portscan.eml")
    with clock.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)):
        response = Client().post(
            "/api/v1/hooks/inbound-mail", raw, content_type="message/rfc822", HTTP_X_MEGALAYER_SIGNATURE=sign(raw, "s")
        )
    report = AbuseReport.objects.get()
    assert response.json() == {"outcome": f"abuse report {report.public_id}"}
    assert AbuseCase.objects.get().service == network["bob"]


@pytest.mark.parametrize("feedback", ["auth-failure", "not-spam"])
def test_an_informing_arf_report_from_a_trusted_reporter_opens_no_case_and_cannot_be_confirmed_into_one(
    network, staff, feedback
):
    from megalayer.abuse.actions import event_confirm
    from megalayer.core.errors import RuleRefused

    with clock.travel(dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)):
        report, _ = report_receive(raw=_arf("203.0.113.45", feedback=feedback), source="mail")
    assert report.trusted  # the reporter is trusted: only the feedback type keeps the desk still
    event = report.events.get()
    assert (event.address, event.confirmed, event.informational, event.case) == ("203.0.113.45", False, True, None)
    assert feedback in event.detail
    with pytest.raises(RuleRefused) as refused:
        event_confirm(event=event, staff=staff)
    assert refused.value.type_slug == "informational-report"
    event.refresh_from_db()
    assert (event.confirmed, event.case) == (False, None)
    assert AbuseCase.objects.count() == 0
    assert not Notice.objects.filter(kind="abuse_case").exists()


def test_a_v3_document_is_checked_against_the_published_schemas_through_the_xarf_package():
    """X-ARF v3 is validated the way the ``xarf`` package does (converted to v4, then the v4 schemas): a valid
    report has no warning; one the schemas refuse is still read, with the reason as a warning (issue 16)."""
    from megalayer.abuse.parsing import parse_document

    report = {
        "ReportClass": "Content",
        "ReportType": "Phishing",
        "Date": "2026-11-25T10:00:00Z",
        "SourceIp": "198.51.100.7",
        "Url": "http://login-bank.example/",
    }
    good: dict[str, Any] = {
        "Version": "3",
        "ReporterInfo": {"ReporterOrg": "Rights Agency", "ReporterOrgEmail": "abuse@rights-agency.example"},
        "Disclosure": True,
        "Report": report,
    }
    parsed = parse_document(good)
    assert (parsed.format, parsed.category, parsed.warnings) == ("xarf-v3", "phishing", [])
    assert [f.address for f in parsed.findings] == ["198.51.100.7"]
    odd = {**good, "Report": {**report, "ReportType": "Teleportation"}}
    parsed = parse_document(odd)
    assert [f.address for f in parsed.findings] == ["198.51.100.7"]  # still read: nothing is lost
    assert parsed.warnings[0].startswith("schema: v3: XARFParseError: Cannot convert v3 report: unknown ReportType")
    legacy = parse_document({**good, "Version": "2"})
    assert (legacy.format, legacy.warnings) == ("xarf-v2", [])  # no published v2 schema: read by shape
