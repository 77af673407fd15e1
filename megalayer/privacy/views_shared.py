"""The data export as a download, for the client area, the back office and the API alike."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from megalayer.audit.actions import Actor
from megalayer.privacy.actions import privacy_export


def export_response(customer: Any, actor: Actor) -> HttpResponse:
    response = HttpResponse(privacy_export(customer=customer, actor=actor), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="megalayer-{customer.public_id}.zip"'
    return response
