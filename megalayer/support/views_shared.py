"""What the client area, the back office and the API share: reading uploads and serving attachments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import FileResponse

from megalayer.core.errors import InvalidInput
from megalayer.support.actions import Upload
from megalayer.support.models import Attachment


def uploads_from(files: Iterable[Any], limit: int) -> list[Upload]:
    """Django's uploaded files as the desk's uploads; an oversized one is refused before it is read."""
    out = []
    for item in files:
        if item.size > limit:
            raise InvalidInput(f"{item.name} is larger than {limit // (1024 * 1024)} MB.", field="attachments")
        out.append(Upload(name=item.name, content=item.read()))
    return out


def attachment_response(attachment: Attachment) -> FileResponse:
    """Always a download with a safe type: a customer's HTML or SVG never renders in our origin."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
