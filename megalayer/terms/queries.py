"""Reads about Terms versions: which one is in force, its policy, and what changed."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet

from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.core.people import Person
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.policy import Policy
from megalayer.terms.requirements import packaged_requirement_ids


def version_at(moment: dt.datetime) -> TermsVersion | None:
    """The version in force at ``moment``: the newest whose effective time has come."""
    return TermsVersion.objects.filter(effective_at__lte=moment).order_by("-effective_at", "-number").first()


def version_number_at(moment: dt.datetime) -> int | None:
    version = version_at(moment)
    return version.number if version else None


def current_version() -> TermsVersion | None:
    return version_at(clock.now())


def upcoming_version() -> TermsVersion | None:
    """A published version whose effective time is still ahead, if any."""
    return TermsVersion.objects.filter(effective_at__gt=clock.now()).order_by("effective_at").first()


def policy_at(moment: dt.datetime) -> Policy:
    """The policy numbers in force at ``moment`` (the defaults before any version exists)."""
    version = version_at(moment)
    return version.policy if version else Policy()


def requirement_check(requirement: str, moment: dt.datetime | None = None) -> str:
    """``requirement`` if the Terms in force at ``moment`` contain it (TOS-ABUSE-2), else a field error.

    Before any version is published the packaged requirements stand in, as the default policy does.
    """
    version = version_at(moment or clock.now())
    known = version.requirements if version else packaged_requirement_ids()
    if requirement not in known:
        where = f"version {version.number} of the Terms" if version else "the Terms"
        raise InvalidInput(f"{requirement or 'An empty clause'} is not a requirement of {where}.", field="requirement")
    return requirement


def latest_acceptance(user: Person) -> TermsAcceptance | None:
    return (
        TermsAcceptance.objects.filter(user_id=user.pk).select_related("version").order_by("-version__number").first()
    )


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "same", "added", "removed", "gap"
    text: str


def terms_diff(old: TermsVersion | None, new: TermsVersion, context: int = 2) -> list[DiffLine]:
    """Line diff of two versions' texts, with unchanged stretches folded to ``context`` lines."""
    old_lines = old.body.splitlines() if old else []
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new.body.splitlines(), autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", text) for text in old_lines[i1:i2])
                continue
            if tag in ("replace", "delete"):
                lines.extend(DiffLine("removed", text) for text in old_lines[i1:i2])
            if tag in ("replace", "insert"):
                lines.extend(DiffLine("added", text) for text in new.body.splitlines()[j1:j2])
    return lines


@dataclass(frozen=True, slots=True)
class TermsBlock:
    """A paragraph of the text, or a section heading, with the line it starts on (for anchors)."""

    text: str
    line: int
    is_heading: bool
    address: str = ""  # the abuse desk's address, where the text leaves it to be filled in


_ADDRESS_GAP = re.compile(r"(?:e-?mail|email) to:?$", re.IGNORECASE)


def terms_blocks(version: TermsVersion) -> list[TermsBlock]:
    """The text as paragraphs (lines separated by blank lines) and headings, for display.

    The Terms' own text ends "Reports of activity in violation of this Agreement may be sent via email to"
    without an address: the provider's abuse address (``MEGALAYER_ABUSE_ADDRESS``) completes that sentence
    (TOS-ABUSE-1), so the published text stays as written and the address stays a setting."""
    headings = {clause["line"] for clause in version.clauses}
    blocks: list[TermsBlock] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate([*version.body.splitlines(), ""], start=1):
        if raw.strip():
            if not current:
                start = number
            current.append(raw.strip())
            continue
        if current:
            text = " ".join(current)
            address = settings.MEGALAYER_ABUSE_ADDRESS if _ADDRESS_GAP.search(text) else ""
            blocks.append(TermsBlock(text, start, start in headings and len(current) == 1, address))
            current = []
    return blocks


_HEADING = re.compile(r"^[A-Z][A-Za-z&' ]{2,60}$")


def parse_clause_headings(body: str) -> list[dict[str, Any]]:
    """Find section headings: short capitalised lines standing alone between blank lines."""
    lines = body.splitlines()
    headings: list[dict[str, Any]] = []
    for index, raw in enumerate(lines):
        text = raw.strip()
        before_blank = index == 0 or not lines[index - 1].strip()
        after_blank = index + 1 >= len(lines) or not lines[index + 1].strip()
        if before_blank and after_blank and _HEADING.match(text) and len(text.split()) <= 6:
            headings.append({"heading": text, "line": index + 1})
    return headings


def acceptances_of(user: Person) -> QuerySet[TermsAcceptance]:
    return TermsAcceptance.objects.filter(user_id=user.pk).select_related("version")


def versions_with_acceptances() -> QuerySet[TermsVersion]:
    return TermsVersion.objects.annotate(accepted=Count("acceptances"))


def latest_version() -> TermsVersion | None:
    """The highest-numbered version, in force or not (what a new version is drafted from)."""
    return TermsVersion.objects.order_by("-number").first()


def versions_newest_first() -> QuerySet[TermsVersion]:
    return TermsVersion.objects.order_by("-number")


def version_by_number(number: int, *, in_force_only: bool = False) -> TermsVersion | None:
    """A version by its number; with ``in_force_only``, only one whose effective time has come."""
    rows = TermsVersion.objects.filter(number=number)
    return (rows.filter(effective_at__lte=clock.now()) if in_force_only else rows).first()


def accepted_at_by_version(user: Person) -> dict[int, dt.datetime]:
    """When the user accepted each version, by version number."""
    return dict(TermsAcceptance.objects.filter(user_id=user.pk).values_list("version__number", "accepted_at"))


def versions_in_force_history() -> QuerySet[TermsVersion]:
    """Every version whose effective time has come (the public history), without their bodies."""
    return TermsVersion.objects.filter(effective_at__lte=clock.now()).only(
        "number", "update_date", "effective_at", "summary"
    )


def version_before(number: int, *, accepted_by: Person | None = None) -> TermsVersion | None:
    """The newest version before ``number``; with ``accepted_by``, the newest that person accepted."""
    rows = TermsVersion.objects.filter(number__lt=number)
    if accepted_by is not None:
        rows = rows.filter(acceptances__user_id=accepted_by.pk)
    return rows.order_by("-number").first()
