"""Issue 15: the faces read through each app's ``queries`` (and write through its ``actions``).

The back office, the API and the client area name no model manager: every read they need is a function of
the app that owns the data (``<app>/queries.py``), where its scoping (another customer's object is not
found), its ``select_related`` and its ordering are decided once. The API's own replay store is the one
exception. The commands of ``cli`` (demo data, the simulation) are tools, not faces, and are not scanned.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2]
FACES = ("backoffice", "api", "portal")
MANAGER = re.compile(r"\b[A-Z]\w*\.objects\.")
EXCEPTIONS: dict[str, str] = {
    "api/idempotency.py": "the API face's own replay store (IdempotencyRecord), which no other app owns",
    "api/apps.py": "the API's share of an erasure: deleting its own replay store",
}


def _offences() -> list[str]:
    found = []
    for face in FACES:
        for path in sorted((PACKAGE / face).rglob("*.py")):
            relative = path.relative_to(PACKAGE).as_posix()
            if "/tests/" in relative or "/migrations/" in relative or relative in EXCEPTIONS:
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if MANAGER.search(line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_no_face_reads_a_model_manager_itself():
    assert _offences() == []


def test_the_scan_sees_a_manager_and_every_exception_still_exists():
    assert MANAGER.search('    rows = Service.objects.filter(status="active")')
    assert not MANAGER.search("    rows = services_search(query, status)")
    for relative in EXCEPTIONS:
        assert (PACKAGE / relative).exists(), relative
