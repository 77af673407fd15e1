"""The requirements the Terms are turned into (``fixtures/requirements.md``, a copy of the shared spec).

Every enforcement action names one of these IDs as its clause; a version of the Terms lists the IDs it
contains (``TermsVersion.requirements``), so a clause that a newer version drops cannot be cited under it
(TOS-ABUSE-2). The conformance table (``docs/conformance.md``) has one row per ID read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REQUIREMENTS_FILE = Path(__file__).resolve().parent / "fixtures" / "requirements.md"
_ROW = re.compile(r"^\|\s*(TOS-[A-Z]+-\d+)\s*\|\s*(.*?)\s*\|\s*(.*?)\s*\|\s*$")


@dataclass(frozen=True, slots=True)
class Requirement:
    id: str
    section: str
    clause: str
    behaviour: str


@cache
def packaged_requirements() -> tuple[Requirement, ...]:
    """The requirements in document order, with the section heading each sits under."""

    found: list[Requirement] = []
    section = ""
    for line in REQUIREMENTS_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif match := _ROW.match(line):
            found.append(Requirement(match[1], section, match[2], match[3]))
    return tuple(found)


def packaged_requirement_ids() -> list[str]:
    """The default of a new terms version's ``requirements``."""
    return [requirement.id for requirement in packaged_requirements()]
