"""Reading abuse reports: ARF (RFC 5965), X-ARF v3 (JSON in a MIME part) and free text.

Parsing never raises: whatever it cannot read is reported as ``error`` and the report
goes to triage, stored unchanged. Structured formats yield confirmed findings; free
text yields findings that staff confirm (an address quoted in a complaint is not always
the culprit).
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import json
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from megalayer.abuse.choices import Category, Parser


@dataclass(frozen=True, slots=True)
class Finding:
    address: str
    occurred_at: dt.datetime | None
    category: str
    detail: str = ""
    confirmed: bool = True


@dataclass
class Parsed:
    parser: str = Parser.NONE
    reporter: str = ""
    # Domains our own mail server verified for this message (DKIM or DMARC pass), lower case.
    verified_domains: list[str] = field(default_factory=list)
    subject: str = ""
    sent_at: dt.datetime | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    text: str = ""


ARF_TYPES = {"abuse": Category.SPAM, "fraud": Category.PHISHING, "virus": Category.HACKING, "opt-out": Category.SPAM}
XARF_TYPES = {
    "portscan": Category.SCANNING,
    "scan": Category.SCANNING,
    "loginattack": Category.BRUTE_FORCE,
    "login-attack": Category.BRUTE_FORCE,
    "bruteforce": Category.BRUTE_FORCE,
    "ddos": Category.DOS,
    "dos": Category.DOS,
    "spam": Category.SPAM,
    "phishing": Category.PHISHING,
    "malware": Category.HACKING,
    "botnet": Category.HACKING,
    "hacking": Category.HACKING,
    "copyright": Category.COPYRIGHT,
    "childabuse": Category.ILLEGAL_CONTENT,
    "fraud": Category.PHISHING,
}
KEYWORDS = [
    (re.compile(r"copyright|infring|dmca|pirat", re.I), Category.COPYRIGHT),
    (re.compile(r"phish|fraud|scam", re.I), Category.PHISHING),
    (re.compile(r"\bspam|unsolicited|bulk mail", re.I), Category.SPAM),
    (re.compile(r"port ?scan|scanning|\bscan\b", re.I), Category.SCANNING),
    (re.compile(r"brute|login attempt|ssh attack|password guess", re.I), Category.BRUTE_FORCE),
    (re.compile(r"ddos|denial of service|\bflood", re.I), Category.DOS),
    (re.compile(r"malware|botnet|trojan|exploit|hack", re.I), Category.HACKING),
]
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(
    r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){1,7}:?(?:[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4}){0,6})(?![0-9A-Fa-f:])"
)
ISO_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ]|\s+at\s+)(\d{1,2}:\d{2}(?::\d{2})?)\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?", re.I
)


def _when(text: str) -> dt.datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is None:
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def _body_text(message: Message) -> str:
    if isinstance(message, EmailMessage):
        part = message.get_body(preferencelist=("plain", "html"))
        if part is not None:
            try:
                content = str(part.get_content())
            except (LookupError, ValueError):
                content = ""
            if part.get_content_type() == "text/html":
                content = re.sub(r"<[^>]+>", " ", content)
            if content:
                return content
    chunks = []
    for piece in message.walk():
        if piece.get_content_type() == "text/plain":
            payload = piece.get_payload(decode=True)
            if isinstance(payload, bytes):
                chunks.append(payload.decode(piece.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(chunks)


def _arf(message: Message, parsed: Parsed) -> bool:
    if message.get_content_type() != "multipart/report":
        return False
    if str(message.get_param("report-type") or "").lower() != "feedback-report":
        return False
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        fields: Message
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            fields = payload[0]
        elif isinstance(payload, str):
            fields = email.message_from_string(payload)
        else:
            continue
        source = _address(str(fields.get("Source-IP", "")))
        if source is None:
            parsed.error = "ARF report without a valid Source-IP"
            return True
        category = ARF_TYPES.get(str(fields.get("Feedback-Type", "abuse")).strip().lower(), Category.SPAM)
        detail = f"ARF {fields.get('Feedback-Type', 'abuse')} from {fields.get('Reporting-MTA', '?')}"
        parsed.findings.append(Finding(source, _when(str(fields.get("Arrival-Date", ""))), category, detail))
        parsed.parser = Parser.ARF
        return True
    parsed.error = "feedback report without a message/feedback-report part"
    return True


def _xarf_document(message: Message) -> dict[str, Any] | None:
    for part in message.walk():
        name = (part.get_filename() or "").lower()
        if part.get_content_type() in ("application/json", "text/json") or name.endswith(".json"):
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            try:
                document = json.loads(payload.decode("utf-8", errors="replace"))
            except ValueError:
                continue
            if isinstance(document, dict) and str(document.get("Version", "")).startswith("3"):
                return document
    return None


def _xarf(message: Message, parsed: Parsed) -> bool:
    document = _xarf_document(message)
    if document is None:
        if message.get("X-XARF"):
            parsed.error = "X-ARF mail without a readable version 3 JSON report"
            return True
        return False
    parsed.parser = Parser.XARF
    report = document.get("Report")
    if not isinstance(report, dict):
        parsed.error = "X-ARF report without a Report object"
        return True
    source = _address(str(report.get("SourceIp", "")))
    if source is None:
        parsed.error = "X-ARF report without a valid SourceIp"
        return True
    kind = str(report.get("ReportType", "")).replace(" ", "").lower()
    category = XARF_TYPES.get(kind, Category.OTHER)
    reporter = document.get("ReporterInfo") or {}
    if isinstance(reporter, dict) and reporter.get("ReporterOrg"):
        parsed.reporter = f"{reporter.get('ReporterOrg')} <{reporter.get('ReporterOrgEmail', '')}>"
    detail = f"X-ARF {report.get('ReportClass', '')}/{report.get('ReportType', '')}"
    parsed.findings.append(Finding(source, _when(str(report.get("Date", ""))), category, detail))
    return True


def _freetext(parsed: Parsed) -> None:
    text = parsed.text
    parsed.parser = Parser.FREETEXT
    category = next((c for pattern, c in KEYWORDS if pattern.search(text)), Category.OTHER)
    moment = None
    found = ISO_TIME.search(text)
    if found:
        zone = (found.group(3) or "UTC").upper().replace("Z", "UTC").replace("GMT", "UTC")
        stamp = f"{found.group(1)}T{found.group(2)}{'+00:00' if zone == 'UTC' else zone}"
        moment = _when(stamp)
    seen: set[str] = set()
    for candidate in [*IPV4.findall(text), *IPV6.findall(text)]:
        address = _address(candidate)
        if address is None or address in seen or ipaddress.ip_address(address).is_loopback:
            continue
        seen.add(address)
        parsed.findings.append(Finding(address, moment, category, "found in the text", confirmed=False))
    if not parsed.findings:
        parsed.error = "no IP address found in the text"


def _clean_text(parsed: Parsed) -> Parsed:
    """No NUL characters in what is stored as text (PostgreSQL refuses them; they mean nothing here)."""
    parsed.subject = parsed.subject.replace("\x00", "")
    parsed.reporter = parsed.reporter.replace("\x00", "")
    parsed.text = parsed.text.replace("\x00", "")
    parsed.error = parsed.error.replace("\x00", "")
    parsed.findings = [
        Finding(f.address, f.occurred_at, f.category, f.detail.replace("\x00", ""), f.confirmed)
        for f in parsed.findings
    ]
    return parsed


AUTH_PASS = re.compile(
    r"\b(?:dkim\s*=\s*pass\b[^;]*?\bheader\.(?:d|i)\s*=\s*@?(?P<dkim>[A-Za-z0-9.-]+)"
    r"|dmarc\s*=\s*pass\b[^;]*?\bheader\.from\s*=\s*(?P<dmarc>[A-Za-z0-9.-]+))",
    re.I,
)


def verified_domains(message: Message, authserv_id: str) -> list[str]:
    """Domains that DKIM or DMARC verified, read from our own mail server's ``Authentication-Results``.

    Only the topmost header whose authserv-id is ours counts (RFC 8601: our server adds it last, and removes
    any that a sender forged with our ID); a header from another server says what that server believed.
    """
    if not authserv_id:
        return []
    for header in message.get_all("Authentication-Results") or []:
        text = " ".join(str(header).split())
        server, _, results = text.partition(";")
        if (server.split() or [""])[0].lower() != authserv_id.lower():
            continue
        found = {(m.group("dkim") or m.group("dmarc")).lower().strip(".") for m in AUTH_PASS.finditer(results)}
        return sorted(found)
    return []


def parse(raw: bytes, *, authserv_id: str = "") -> Parsed:
    return _clean_text(_parse(raw, authserv_id))


def _parse(raw: bytes, authserv_id: str = "") -> Parsed:
    parsed = Parsed()
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        parsed.verified_domains = verified_domains(message, authserv_id)
        parsed.subject = str(message.get("Subject", ""))[:255]
        parsed.reporter = parseaddr(str(message.get("From", "")))[1][:255]
        parsed.sent_at = _when(str(message.get("Date", "")))
        parsed.text = _body_text(message)
        if not (_arf(message, parsed) or _xarf(message, parsed)):
            _freetext(parsed)
    except Exception as error:  # malformed MIME of every kind: stored, triaged, never lost
        parsed.error = f"unreadable message: {type(error).__name__}: {error}"[:500]
        parsed.findings = []
    return parsed
