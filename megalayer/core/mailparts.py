"""Reading real mail without ever raising: parts, text, attached messages, the Received chain.

Mail from the wild declares charsets nobody knows (``unknown-8bit``, ``x-user-defined``), nests
messages in ``message/rfc822`` and ``text/rfc822-headers`` parts, and breaks MIME in every way.
Every reader of inbound mail (the abuse desk, bounce handling, ``megalayer mail explain``) goes
through these helpers, which decode what they can with replacement characters and give up on a
part, never on the message (issue 16).
"""

from __future__ import annotations

import codecs
import email
import ipaddress
import re
from collections.abc import Iterator
from email import policy
from email.errors import MessageError
from email.message import EmailMessage, Message
from email.utils import getaddresses

# What broken mail raises while being read: bad header syntax, bad encodings, parts of the wrong shape.
MALFORMED = (ValueError, TypeError, LookupError, AttributeError, MessageError)
HTML_TAG = re.compile(r"<[^>]+>")
# "from host (rdns [192.0.2.1])", "from [2001:db8::1]", "(192.0.2.1)": the address the receiving server saw.
RECEIVED_FROM = re.compile(r"^\s*from\s+(?P<from>.*?)\s+by\s", re.I | re.S)
BRACKETED = re.compile(r"[\[(]\s*(?:IPv6:)?([0-9A-Fa-f:.]{3,45})\s*[\])]")


def load(raw: bytes) -> EmailMessage:
    """The message, parsed with the modern policy; headers are read lazily and may still be broken."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def header(message: Message, name: str) -> str:
    """One header as text, or "" when it is missing or undecodable."""
    try:
        value = message.get(name)
    except MALFORMED:  # a malformed header defeats the header registry; the raw value is still there
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    return " ".join(str(value).split()) if value is not None else ""


def headers(message: Message, name: str) -> list[str]:
    try:
        values = message.get_all(name) or []
    except MALFORMED:
        values = [v for k, v in message.raw_items() if k.lower() == name.lower()]
    return [" ".join(str(v).split()) for v in values]


def decode(payload: bytes, charset: str | None) -> str:
    """Bytes as text in the declared charset, or UTF-8 (then Latin-1) with replacement when it is unknown."""
    name = (charset or "utf-8").strip().strip('"').lower()
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    try:
        return payload.decode(name, errors="replace")
    except MALFORMED:
        return payload.decode("latin-1", errors="replace")


def part_text(part: Message) -> str:
    """A leaf part's text, transfer-decoded and charset-decoded; "" when it holds no text."""
    try:
        payload = part.get_payload(decode=True)
    except MALFORMED:
        return ""
    if isinstance(payload, bytes):
        try:
            charset = part.get_content_charset()
        except MALFORMED:
            charset = None
        return decode(payload, charset)
    return payload if isinstance(payload, str) else ""


def walk(message: Message) -> Iterator[Message]:
    """Every part, depth first; a part that breaks the walk ends it, what was read stays read."""
    try:
        yield from message.walk()
    except MALFORMED:
        return


def body_text(message: Message, *, include_attached: bool = True) -> str:
    """The readable text of a message: its text/plain parts, else its HTML with the tags removed."""
    plain: list[str] = []
    html: list[str] = []
    for part in walk(message):
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        if part.get_content_disposition() == "attachment" and not content_type.startswith("text/plain"):
            continue
        if content_type == "text/plain":
            plain.append(part_text(part))
        elif content_type == "text/html":
            html.append(HTML_TAG.sub(" ", part_text(part)))
        elif content_type.startswith("multipart/") and isinstance(part.get_payload(), str):
            plain.append(str(part.get_payload()))  # its boundary is missing: the whole body is one text
        elif content_type in ("message/delivery-status", "message/feedback-report", "text/rfc822-headers"):
            plain.append(part_text(part) or str(part.get_payload()))
    if not include_attached:
        return "\n".join(plain)
    return "\n".join(plain) or "\n".join(html)


def attached_messages(message: Message) -> list[Message]:
    """Messages quoted inside this one: ``message/rfc822`` parts and ``text/rfc822-headers`` parts."""
    found: list[Message] = []
    for part in walk(message):
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found.append(payload[0])
            elif isinstance(payload, str | bytes):
                found.append(email.message_from_string(payload if isinstance(payload, str) else decode(payload, None)))
        elif content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            found.append(email.message_from_string(part_text(part)))
    return found


def address(text: str) -> str | None:
    """A normalised IP address, or None."""
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def received_ips(message: Message) -> list[str]:
    """The connecting addresses the Received headers recorded, topmost (most recent) first.

    Private, loopback and link-local addresses are left out: they name hops inside the
    reporter's or sender's own network, not the source.
    """
    found: list[str] = []
    for received in headers(message, "Received"):
        clause = RECEIVED_FROM.match(received)
        if clause is None:
            continue
        for candidate in BRACKETED.findall(clause.group("from")):
            ip = address(candidate)
            if ip is None or ip in found:
                continue
            parsed = ipaddress.ip_address(ip)
            if parsed.is_private or parsed.is_loopback or parsed.is_link_local or parsed.is_unspecified:
                continue
            found.append(ip)
    return found


def recipient_headers(message: Message) -> list[str]:
    """Every address the message says it was delivered to (delivery headers first, then To and Cc)."""
    values = [
        v for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc") for v in headers(message, name)
    ]
    try:
        return [found.lower() for _, found in getaddresses([v for v in values if v]) if "@" in found]
    except MALFORMED:
        return []


def filename(part: Message) -> str:
    """A part's file name in lower case, or "" when it has none or it cannot be decoded."""
    try:
        return (part.get_filename() or "").lower()
    except MALFORMED:
        return ""
