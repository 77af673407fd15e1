"""RFC 9457 problem documents (``application/problem+json``)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from megalayer.accounts.roles import MISSING_PERMISSION_HEADER
from megalayer.core.errors import DomainError, RateLimited

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_response(
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update({key: value for key, value in extra.items() if value is not None})
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def problem_from_domain_error(error: DomainError) -> HttpResponse:
    errors = [{"field": error.field, "message": error.detail}] if error.field else None
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
    missing = getattr(error, "missing_permission", None)
    if missing:  # a staff role lacks it (accounts/roles.py): said in a header, whatever the status
        headers[MISSING_PERMISSION_HEADER] = missing
    return problem_response(
        status=error.status,
        slug=error.type_slug,
        title=error.title,
        detail=error.detail,
        errors=errors,
        headers=headers,
        requirement=error.requirement,
    )


def field_errors_from_validation(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Ninja/pydantic errors as ``{"field": "a.b", "message": "..."}``; the location prefix is dropped."""
    result = []
    for error in errors:
        location = [str(part) for part in error.get("loc", [])]
        if location and location[0] in {"body", "query", "path", "header", "cookie", "form", "file"}:
            location = location[1:]
        if location and location[0] in {"payload", "data", "body"}:
            location = location[1:]
        result.append({"field": ".".join(location) or "body", "message": str(error.get("msg", "invalid"))})
    return result
