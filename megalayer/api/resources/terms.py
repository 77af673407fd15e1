"""``/terms``: the Terms in force and acceptance."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from megalayer.accounts.models import User
from megalayer.accounts.queries import signed_in_user
from megalayer.api.auth import require_write
from megalayer.api.schemas import Problem
from megalayer.core.errors import NotFound, RuleRefused
from megalayer.terms.actions import terms_accept, terms_current_or_refuse
from megalayer.terms.middleware import request_info
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.queries import accepted_at_by_version, current_version, version_by_number, versions_newest_first

router = Router(tags=["terms"])


class ClauseOut(Schema):
    heading: str
    line: int


class TermsOut(Schema):
    version: int
    title: str
    update_date: dt.date
    effective_at: dt.datetime
    summary: str
    body: str
    clauses: list[ClauseOut]
    policy: dict[str, Any]


class AcceptanceOut(Schema):
    version: int
    accepted_at: dt.datetime
    method: str


def _terms_out(version: TermsVersion) -> TermsOut:
    return TermsOut(
        version=version.number,
        title=version.title,
        update_date=version.update_date,
        effective_at=version.effective_at,
        summary=version.summary,
        body=version.body,
        clauses=[ClauseOut(**clause) for clause in version.clauses],
        policy=version.policy_data,
    )


class VersionOut(Schema):
    version: int
    title: str
    update_date: dt.date
    effective_at: dt.datetime
    summary: str
    accepted_at: dt.datetime | None


@router.get("/terms", response={200: list[VersionOut], 401: Problem}, summary="Every version, and when you accepted it")
def terms_versions(request: HttpRequest) -> list[VersionOut]:
    user = request.user
    assert isinstance(user, User)  # TokenAuth: only a token's user gets here
    accepted = accepted_at_by_version(user)
    return [
        VersionOut(
            version=v.number,
            title=v.title,
            update_date=v.update_date,
            effective_at=v.effective_at,
            summary=v.summary,
            accepted_at=accepted.get(v.number),
        )
        for v in versions_newest_first()
    ]


@router.get("/terms/current", response={200: TermsOut, 401: Problem, 409: Problem}, summary="The Terms in force")
def terms_current(request: HttpRequest) -> TermsOut:
    return _terms_out(terms_current_or_refuse())


@router.post(
    "/terms/{version}/accept",
    response={200: AcceptanceOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem},
    summary="Accept a version of the Terms (the one in force, or one announced for later)",
)
def terms_accept_version(request: HttpRequest, version: int) -> AcceptanceOut:
    require_write(request)
    target = version_by_number(version)
    if target is None:
        raise NotFound(f"There is no version {version} of the Terms.")
    current = current_version()
    if current is not None and target.number < current.number:
        raise RuleRefused(
            f"Version {version} has been superseded by version {current.number}.",
            rule="terms-superseded",
            requirement="TOS-ACCEPT-2",
        )
    acceptance = terms_accept(
        user=signed_in_user(request),
        version=target,
        method=TermsAcceptance.Method.EXPLICIT,
        request_info=request_info(request),
    )
    return AcceptanceOut(
        version=acceptance.version.number, accepted_at=acceptance.accepted_at, method=acceptance.method
    )
