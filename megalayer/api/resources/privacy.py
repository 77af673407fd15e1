"""``/privacy/…``: the Privacy Policy and its acceptance, the customer's data export and account deletion
(TOS-PRIVACY-1); ``/staff/privacy-policy`` publishes a version.

Deleting the account through the API asks for the account's password in the body, as the client area does:
a token alone (a leaked one, say) must not be enough to close an account and erase its data."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from megalayer.accounts.queries import signed_in_user
from megalayer.api.auth import StaffTokenAuth, require_write, staff_auth
from megalayer.api.resources.billing import _customer
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, NotFound
from megalayer.privacy.actions import erasure_request
from megalayer.privacy.actions.policy import privacy_policy_accept, privacy_policy_publish
from megalayer.privacy.models import PrivacyPolicyAcceptance, PrivacyPolicyVersion
from megalayer.privacy.queries import policy_acceptances, policy_in_force, policy_version
from megalayer.privacy.views_shared import export_response

router = Router(tags=["privacy"])
staff_router = Router(tags=["staff"], auth=StaffTokenAuth())
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class PolicyOut(Schema):
    version: int
    body: str
    summary: str
    update_date: dt.date
    effective_at: dt.datetime
    accepted_at: dt.datetime | None = Field(description="When you accepted this version; null: not yet")


class PolicyIn(Schema):
    body: str = Field(min_length=1)
    summary: str = Field(min_length=1, max_length=5000, description="What changed, in plain words; e-mailed")
    update_date: dt.date
    effective_at: dt.datetime = Field(description="Not in the past; customers are told before it")


class DeletionIn(Schema):
    password: str = Field(min_length=1, max_length=4096, description="The account's password, asked again")
    confirm: bool = Field(description="true: the account closes now and its personal data is erased later")
    acknowledge_balance: bool = Field(default=False, description="Give up a balance left (it cannot be paid out)")


class DeletionOut(Schema):
    id: str
    status: str
    erase_after: dt.datetime


def _policy_out(request: HttpRequest, version: PrivacyPolicyVersion) -> PolicyOut:
    accepted = policy_acceptances(signed_in_user(request)).get(version.number)
    return PolicyOut(
        version=version.number,
        body=version.body,
        summary=version.summary,
        update_date=version.update_date,
        effective_at=version.effective_at,
        accepted_at=accepted.accepted_at if accepted else None,
    )


@router.get(
    "/privacy/export",
    response={200: None, 401: Problem, 404: Problem},
    summary="Your personal data: a zip of JSON files with a manifest of SHA-256 checksums",
    openapi_extra={"responses": {200: {"content": {"application/zip": {}}, "description": "zip"}}},
)
def privacy_export_download(request: HttpRequest) -> HttpResponse:
    return export_response(_customer(request), Actor.for_user(signed_in_user(request)))


@router.get("/privacy/policy", response={200: PolicyOut, **ERRORS}, summary="The Privacy Policy in force")
def privacy_policy_current(request: HttpRequest) -> PolicyOut:
    version = policy_in_force(clock.now())
    if version is None:
        raise NotFound("No Privacy Policy is published.")
    return _policy_out(request, version)


@router.post(
    "/privacy/policy/{version}/accept",
    response={201: PolicyOut, **ERRORS},
    summary="Accept a version of the Privacy Policy (the one in force, or the one announced)",
)
def privacy_policy_accept_view(request: HttpRequest, version: int) -> Status[PolicyOut]:
    require_write(request)
    found = policy_version(version, clock.now())
    if found is None:
        raise NotFound("No such version of the Privacy Policy.")
    privacy_policy_accept(
        user=signed_in_user(request),
        version=found,
        method=PrivacyPolicyAcceptance.Method.EXPLICIT,
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )
    return Status(201, _policy_out(request, found))


@router.post(
    "/privacy/deletion",
    response={202: DeletionOut, **ERRORS},
    summary="Delete your account: it closes now, its personal data is erased after the grace period",
)
def privacy_deletion(request: HttpRequest, payload: DeletionIn) -> Status[DeletionOut]:
    require_write(request)
    customer = _customer(request)
    user = signed_in_user(request)
    if not payload.confirm:
        raise InvalidInput("Confirm that the account closes now and its data is erased.", field="confirm")
    if not user.check_password(payload.password):
        raise InvalidInput("That is not your password.", field="password")
    scheduled = erasure_request(
        customer=customer,
        actor=Actor.for_user(user),
        requested_by=user.email,
        balance_acknowledged=payload.acknowledge_balance,
    )
    return Status(202, DeletionOut(id=scheduled.public_id, status=scheduled.status, erase_after=scheduled.erase_after))


@staff_router.post(
    "/staff/privacy-policy",
    auth=staff_auth("accounts.manage_terms"),
    response={201: PolicyOut, **ERRORS},
    summary="Publish the next version of the Privacy Policy; customers are told of a change (TOS-PRIVACY-1)",
)
def staff_privacy_policy_publish(request: HttpRequest, payload: PolicyIn) -> Status[PolicyOut]:
    require_write(request)
    staff = signed_in_user(request)
    version = privacy_policy_publish(
        body=payload.body,
        summary=payload.summary,
        update_date=payload.update_date,
        effective_at=payload.effective_at,
        staff=staff,
        actor=Actor.for_user(staff),
    )
    return Status(201, _policy_out(request, version))
