"""``/privacy/export``: the customer's personal data as a zip (TOS-PRIVACY-1). Deleting the account is
a client-area action only: it asks for the password again, which a token cannot give."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from megalayer.accounts.queries import signed_in_user
from megalayer.api.resources.billing import _customer
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.privacy.views_shared import export_response

router = Router(tags=["privacy"])


@router.get(
    "/privacy/export",
    response={200: None, 401: Problem, 404: Problem},
    summary="Your personal data: a zip of JSON files with a manifest of SHA-256 checksums",
    openapi_extra={"responses": {200: {"content": {"application/zip": {}}, "description": "zip"}}},
)
def privacy_export_download(request: HttpRequest) -> HttpResponse:
    return export_response(_customer(request), Actor.for_user(signed_in_user(request)))
