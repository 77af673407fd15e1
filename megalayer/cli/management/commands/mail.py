"""``megalayer mail explain FILE...`` and ``megalayer mail receive FILE...``: an operator's view of inbound mail.

``explain`` reads each file (an .eml message, or an X-ARF JSON document) exactly as the inbound-mail hook would
sort and parse it, stores nothing, and prints one JSON object per line. ``receive`` does the same and then
hands the message to the hook's own path, which stores it and lets its desk act (docs/operations.md).
A file that cannot be read is reported in ``errors``; the command never stops on one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from megalayer.abuse.parsing import Parsed, parse, parse_document
from megalayer.core.errors import DomainError
from megalayer.notices.actions.bounces import bounce_read
from megalayer.notices.actions.inbound import Kind, delivery_of, inbound_mail, sort_mail


def explain_bytes(raw: bytes, *, envelope: list[str] | None = None) -> dict[str, Any]:
    """What the platform makes of one message or X-ARF document, without storing or acting."""
    result: dict[str, Any] = {
        "kind": Kind.UNSORTED,
        "format": "",
        "category": None,
        "ips": [],
        "occurred_at": None,
        "recipient": None,
        "status": None,
        "hard": None,
        "errors": [],
    }
    if raw.lstrip().startswith(b"{"):
        try:
            document = json.loads(raw.decode("utf-8", errors="replace"))
        except ValueError as error:
            result["errors"].append(f"not JSON: {error}")
            return result
        if isinstance(document, dict):
            result["kind"] = Kind.ABUSE
            return _abuse(result, parse_document(document))
    try:
        delivery = delivery_of(raw, envelope or [])
    except DomainError as error:
        result["errors"].append(error.detail)
        return result
    kind, _ = sort_mail(delivery)
    result["kind"] = str(kind)
    if kind == Kind.BOUNCE:
        reading = bounce_read(delivery.message)
        if reading is not None:
            first = reading.failures[0]
            result.update(
                format=reading.format,
                recipient=first.recipient,
                status=first.status,
                hard=first.hard,
                recipients=[{"recipient": f.recipient, "status": f.status, "hard": f.hard} for f in reading.failures],
            )
        return result
    parsed = parse(raw)
    if kind == Kind.ABUSE:
        return _abuse(result, parsed)
    result["format"] = parsed.format or "text"
    return result


def _abuse(result: dict[str, Any], parsed: Parsed) -> dict[str, Any]:
    findings = parsed.findings
    result.update(
        format=parsed.format,
        category=findings[0].category if findings else (parsed.category or None),
        ips=list(dict.fromkeys(f.address for f in findings)),
        occurred_at=next((f.occurred_at.isoformat() for f in findings if f.occurred_at), None),
        actionable=any(f.actionable for f in findings) if findings else None,
    )
    if parsed.source_other:
        result["source"] = parsed.source_other
    result["errors"] += [e for e in (parsed.error, *parsed.warnings) if e]
    return result


class Command(BaseCommand):
    help = "Explain (read only) or receive (store and act on) inbound mail files: one JSON object per line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["explain", "receive"])
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument(
            "--envelope-to", action="append", default=[], help="The envelope recipient, as the mail server saw it."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for path in options["files"]:
            try:
                raw = path.read_bytes()
            except OSError as error:
                self.stdout.write(json.dumps({"file": str(path), "kind": None, "errors": [str(error)]}))
                continue
            line = {"file": str(path), **explain_bytes(raw, envelope=options["envelope_to"])}
            if options["action"] == "receive":
                try:
                    line["outcome"] = inbound_mail(raw, options["envelope_to"])
                except DomainError as error:
                    line["errors"].append(error.detail)
            self.stdout.write(json.dumps(line, ensure_ascii=False))
