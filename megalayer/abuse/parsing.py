"""Reading abuse reports in the formats reporters send (issue 16).

* ARF (RFC 5965): every feedback type has its own meaning. ``abuse``, ``fraud``, ``virus``, ``other`` and
  ``opt-out`` are complaints; ``not-spam`` and ``auth-failure`` (DMARC/DKIM failure reports) are information
  and never lead to a measure. Without ``Source-IP`` the Received chain of the reported message gives the
  source.
* X-ARF 0.2 (YAML in the second part, ``X-XARF: PLAIN`` or ``SECURE``), the JSON X-ARF schemas 1, 2 and 3
  (``Version``, ``Report.SourceIp`` or ``Report.Source.IP``) and XARF v4 (``xarf_version``,
  ``source_identifier``, ``category``/``type``), as an attachment or as the body. XARF v4 documents are
  checked against the published schemas by the ``xarf`` package; what it finds wrong is reported in
  ``warnings``, and the report is still read. (The package's conversion of older versions knows only some
  of their report types, so versions 1-3 are read by their fields, not through it.)
* Microsoft's JMRP (a spam complaint quoting the message, ``X-HmXmrOriginalRecipient``) and every other
  forwarded complaint: the Received chain of the quoted message, then the text.
* Free text: IPv4 and IPv6 addresses and a time.

Parsing never raises: whatever it cannot read is reported as ``error`` and the report goes to triage,
stored unchanged. Structured formats yield confirmed findings; free text yields findings that staff confirm
(an address quoted in a complaint is not always the culprit).
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import json
import re
import warnings
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

import xarf
import xarf.v3_compat

from megalayer.abuse.choices import Category, Parser
from megalayer.core import mailparts


@dataclass(frozen=True, slots=True)
class Finding:
    address: str
    occurred_at: dt.datetime | None
    category: str
    detail: str = ""
    confirmed: bool = True
    # False for reports that inform rather than complain (ARF not-spam, auth-failure): never a measure.
    actionable: bool = True


@dataclass
class Parsed:
    parser: str = Parser.NONE
    # The exact format: arf, jmrp, xarf-0.2, xarf-v1, xarf-v2, xarf-v3, xarf-v4, text.
    format: str = ""
    reporter: str = ""
    # Domains our own mail server verified for this message (DKIM or DMARC pass), lower case.
    verified_domains: list[str] = field(default_factory=list)
    subject: str = ""
    sent_at: dt.datetime | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    text: str = ""
    # What a structured report names as its source when that is not an address (a URL, a domain).
    source_other: str = ""
    # The report's category, also when it names no address.
    category: str = ""

    @property
    def is_report(self) -> bool:
        """A structured complaint (ARF, X-ARF, JMRP): the abuse desk's whatever address it was sent to."""
        return self.parser in (Parser.ARF, Parser.XARF)


# Feedback type → (category, actionable). RFC 5965 section 7.3 and RFC 6591 (auth-failure).
ARF_TYPES: dict[str, tuple[str, bool]] = {
    "abuse": (Category.SPAM, True),
    "fraud": (Category.PHISHING, True),
    "virus": (Category.HACKING, True),
    "other": (Category.OTHER, True),
    "opt-out": (Category.SPAM, True),
    "not-spam": (Category.OTHER, False),
    "auth-failure": (Category.OTHER, False),
}
# X-ARF report types (0.2, JSON 1-3) and XARF v4 types, normalised to lower case without separators.
XARF_TYPES = {
    "portscan": Category.SCANNING,
    "scan": Category.SCANNING,
    "reconnaissance": Category.SCANNING,
    "vulnerabilityscan": Category.SCANNING,
    "webcrawler": Category.SCANNING,
    "scraping": Category.SCANNING,
    "loginattack": Category.BRUTE_FORCE,
    "bruteforce": Category.BRUTE_FORCE,
    "ddos": Category.DOS,
    "dos": Category.DOS,
    "spam": Category.SPAM,
    "bulkmessaging": Category.SPAM,
    "phishing": Category.PHISHING,
    "fraud": Category.PHISHING,
    "malware": Category.HACKING,
    "botnet": Category.HACKING,
    "hacking": Category.HACKING,
    "exploit": Category.HACKING,
    "sqlinjection": Category.HACKING,
    "infectedhost": Category.HACKING,
    "compromisedserver": Category.HACKING,
    "potentiallycompromisedaccount": Category.HACKING,
    "copyright": Category.COPYRIGHT,
    "p2p": Category.COPYRIGHT,
    "cyberlocker": Category.COPYRIGHT,
    "usenet": Category.COPYRIGHT,
    "brandinfringement": Category.COPYRIGHT,
    "childabuse": Category.ILLEGAL_CONTENT,
    "csam": Category.ILLEGAL_CONTENT,
    "csem": Category.ILLEGAL_CONTENT,
    "harassment": Category.CRIME,
}
XARF_CATEGORIES = {"messaging": Category.SPAM, "copyright": Category.COPYRIGHT, "infrastructure": Category.HACKING}
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


_address = mailparts.address


def _feedback_fields(message: Message) -> Message | None:
    """The machine-readable part of an ARF report, wherever it sits (also inside a forwarded report)."""
    for part in mailparts.walk(message):
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        text = mailparts.part_text(part) or (payload if isinstance(payload, str) else "")
        return email.message_from_string(text.lstrip())
    return None


def _reported_sources(message: Message) -> list[str]:
    """Where the reported (quoted) message came from, by its Received chain."""
    for attached in mailparts.attached_messages(message):
        found = mailparts.received_ips(attached)
        if found:
            return found
    return []


def _arf(message: Message, parsed: Parsed) -> bool:
    fields = _feedback_fields(message)
    if fields is None:
        if message.get_content_type() == "multipart/report" and (
            str(message.get_param("report-type") or "").lower() == "feedback-report"
        ):
            parsed.parser, parsed.format = Parser.ARF, "arf"
            parsed.error = "feedback report without a message/feedback-report part"
            return True
        return False
    parsed.parser, parsed.format = Parser.ARF, "arf"
    feedback_type = mailparts.header(fields, "Feedback-Type").lower() or "abuse"
    category, actionable = ARF_TYPES.get(feedback_type, (Category.OTHER, True))
    parsed.category = category
    moment = _when(mailparts.header(fields, "Arrival-Date") or mailparts.header(fields, "Received-Date"))
    reporter = mailparts.header(fields, "Reporting-MTA") or "?"
    detail = f"ARF {feedback_type} from {reporter}" + ("" if actionable else " (information only: no measure)")
    sources = [a for a in (_address(v) for v in mailparts.headers(fields, "Source-IP")) if a]
    if not sources:
        sources = _reported_sources(message)[:1]
        detail += " (source from the reported message's Received chain)" if sources else ""
    if not sources:
        parsed.error = "ARF report without a Source-IP, and no source in the reported message"
        return True
    for source in sources:
        parsed.findings.append(Finding(source, moment, category, detail, confirmed=actionable, actionable=actionable))
    return True


def _jmrp(message: Message, parsed: Parsed) -> bool:
    """A complaint quoting the reported message whole (Microsoft JMRP and the like)."""
    for attached in mailparts.attached_messages(message):
        if not mailparts.header(attached, "X-HmXmrOriginalRecipient"):
            continue
        parsed.parser, parsed.format = Parser.ARF, "jmrp"
        sources = mailparts.received_ips(attached)
        moment = _when(mailparts.header(attached, "Date"))
        for source in sources[:1]:
            parsed.findings.append(Finding(source, moment, Category.SPAM, "JMRP spam complaint"))
        if not sources:
            _freetext(parsed, keep_parser=True)
        return True
    return False


def _json_documents(message: Message) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for part in mailparts.walk(message):
        if part.is_multipart():
            continue
        name = mailparts.filename(part)
        text = mailparts.part_text(part).strip()
        is_json = part.get_content_type() in ("application/json", "text/json") or name.endswith(".json")
        if not (is_json or (text.startswith("{") and text.endswith("}"))):
            continue
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, dict) and ("xarf_version" in document or "Version" in document):
            found.append(document)
    return found


def _type_category(*names: str) -> str:
    for name in names:
        key = re.sub(r"[^a-z0-9]", "", name.lower())
        if key in XARF_TYPES:
            return XARF_TYPES[key]
    for name in names:
        if name.lower() in XARF_CATEGORIES:
            return XARF_CATEGORIES[name.lower()]
    return Category.OTHER


def _schema_warnings(document: dict[str, Any], parsed: Parsed) -> None:
    """Check a v4 document against the published schemas (the ``xarf`` package)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = xarf.parse(document)
        parsed.warnings.extend(f"schema: {e.field or '(document)'}: {e.message}"[:300] for e in result.errors)
    except (xarf.XARFError, *mailparts.MALFORMED) as error:  # a warning, not a lost report
        parsed.warnings.append(f"schema: {type(error).__name__}: {error}"[:300])


def _v3_schema_warnings(document: dict[str, Any], parsed: Parsed) -> None:
    """A v3 document is checked as the ``xarf`` package does: converted to v4 (its v3 compatibility layer),
    then against the published v4 schemas. v1 and v2 have no published schema to check against: they are
    read by their shape only (docs/operations.md)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not xarf.v3_compat.is_v3_report(document):
                parsed.warnings.append("schema: not an X-ARF v3 document (Version, ReporterInfo, Report)")
                return
            converted = xarf.v3_compat.convert_v3_to_v4(document)
    except (xarf.XARFError, *mailparts.MALFORMED) as error:
        parsed.warnings.append(f"schema: v3: {type(error).__name__}: {error}"[:300])
        return
    _schema_warnings(converted, parsed)


def _xarf_json(document: dict[str, Any], parsed: Parsed) -> None:
    parsed.parser = Parser.XARF
    if "xarf_version" in document:
        parsed.format = "xarf-v4"
        _schema_warnings(document, parsed)
        source = str(document.get("source_identifier") or "")
        category = _type_category(str(document.get("type") or ""), str(document.get("category") or ""))
        moment = _when(str(document.get("first_seen") or document.get("timestamp") or ""))
        reporter = document.get("reporter") or {}
        if isinstance(reporter, dict) and reporter.get("org"):
            parsed.reporter = f"{reporter.get('org')} <{reporter.get('contact', '')}>"
        detail = f"XARF v4 {document.get('category', '')}/{document.get('type', '')}"
    else:
        version = str(document.get("Version", "")).split(".")[0]
        parsed.format = f"xarf-v{version}" if version in ("1", "2", "3") else "xarf-json"
        if version == "3":
            _v3_schema_warnings(document, parsed)
        report = document.get("Report") if isinstance(document.get("Report"), dict) else {}
        assert isinstance(report, dict)
        nested = report.get("Source")
        source = str(
            report.get("SourceIp")
            or report.get("SourceIP")
            or (nested.get("IP") or nested.get("Ip") or nested.get("URL") or "" if isinstance(nested, dict) else nested)
            or report.get("Url")
            or ""
        )
        category = _type_category(str(report.get("ReportType", "")), str(report.get("ReportClass", "")))
        moment = _when(str(report.get("Date", "")))
        info = document.get("ReporterInfo") or {}
        if isinstance(info, dict) and info.get("ReporterOrg"):
            parsed.reporter = f"{info.get('ReporterOrg')} <{info.get('ReporterOrgEmail', '')}>"
        detail = f"X-ARF {report.get('ReportClass', '')}/{report.get('ReportType', '')}"
    parsed.category = category
    address = _address(source)
    if address is not None:
        parsed.findings.append(Finding(address, moment, category, detail))
    elif source:
        parsed.source_other = source[:255]
        parsed.error = f"the report's source is not an address ({source[:100]}): attribute it by hand"
    else:
        parsed.error = "X-ARF report without a source"


YAML_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*:\s*(.*)$")


def _xarf_yaml(message: Message, parsed: Parsed) -> bool:
    """X-ARF 0.2: the second part is a YAML report of ``Key: value`` lines."""
    if not mailparts.header(message, "X-XARF"):
        return False
    for part in mailparts.walk(message):
        if part.is_multipart() or part.get_content_type() not in ("text/plain", "text/yaml", "application/yaml"):
            continue
        fields: dict[str, str] = {}
        for line in mailparts.part_text(part).splitlines():
            found = YAML_LINE.match(line.strip())
            if found:
                fields[found.group(1).lower()] = found.group(2).strip().strip("'\"")
        if "source" not in fields and "report-type" not in fields:
            continue
        parsed.parser, parsed.format = Parser.XARF, "xarf-0.2"
        category = _type_category(fields.get("report-type", ""), fields.get("category", ""))
        address = _address(fields.get("source", ""))
        detail = f"X-ARF 0.2 {fields.get('category', '')}/{fields.get('report-type', '')}"
        if fields.get("reported-from"):
            parsed.reporter = fields["reported-from"][:255]
        if address is None:
            parsed.source_other = fields.get("source", "")[:255]
            parsed.error = "X-ARF 0.2 report without an address as its Source"
        else:
            parsed.findings.append(Finding(address, _when(fields.get("date", "")), category, detail))
        return True
    return False


def _xarf(message: Message, parsed: Parsed) -> bool:
    documents = _json_documents(message)
    if documents:
        _xarf_json(documents[0], parsed)
        return True
    return _xarf_yaml(message, parsed)


def _freetext(parsed: Parsed, *, keep_parser: bool = False) -> None:
    text = parsed.text + "\n" + parsed.subject
    if not keep_parser:
        parsed.parser, parsed.format = Parser.FREETEXT, "text"
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
        Finding(f.address, f.occurred_at, f.category, f.detail.replace("\x00", ""), f.confirmed, f.actionable)
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
    for header in mailparts.headers(message, "Authentication-Results"):
        text = " ".join(str(header).split())
        server, _, results = text.partition(";")
        if (server.split() or [""])[0].lower() != authserv_id.lower():
            continue
        found = {(m.group("dkim") or m.group("dmarc")).lower().strip(".") for m in AUTH_PASS.finditer(results)}
        return sorted(found)
    return []


def parse_document(document: dict[str, Any]) -> Parsed:
    """An X-ARF JSON document on its own (as ``megalayer mail explain`` reads a ``.json`` file)."""
    parsed = Parsed()
    try:
        _xarf_json(document, parsed)
    except mailparts.MALFORMED as error:
        parsed.error = f"unreadable report: {type(error).__name__}: {error}"[:500]
    return _clean_text(parsed)


def parse(raw: bytes, *, authserv_id: str = "") -> Parsed:
    """A report as it arrived: a mail message, or an X-ARF JSON document on its own (staff pasting one, a
    reporter's API posting one); the document's text is kept as the report's text."""
    document = _json_document(raw)
    if document is not None:
        parsed = parse_document(document)
        parsed.text = parsed.text or raw.decode("utf-8", errors="replace")
        return _clean_text(parsed)
    return _clean_text(_parse(raw, authserv_id))


def _json_document(raw: bytes) -> dict[str, Any] | None:
    if not raw.lstrip().startswith(b"{"):
        return None
    try:
        document = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _parse(raw: bytes, authserv_id: str = "") -> Parsed:
    parsed = Parsed()
    try:
        message = mailparts.load(raw)
        parsed.verified_domains = verified_domains(message, authserv_id)
        parsed.subject = mailparts.header(message, "Subject")[:255]
        parsed.reporter = parseaddr(mailparts.header(message, "From"))[1][:255]
        parsed.sent_at = _when(mailparts.header(message, "Date"))
        parsed.text = mailparts.body_text(message)
    except mailparts.MALFORMED as error:  # malformed MIME of every kind: stored, triaged, never lost
        parsed.error = f"unreadable message: {type(error).__name__}: {error}"[:500]
        return parsed
    # Each reader on its own: one that fails leaves what the others found.
    for reader in (_arf, _xarf, _jmrp):
        try:
            if reader(message, parsed):
                return parsed
        except mailparts.MALFORMED as error:
            parsed.warnings.append(f"{reader.__name__.strip('_')}: {type(error).__name__}: {error}"[:300])
    _freetext(parsed)
    return parsed
