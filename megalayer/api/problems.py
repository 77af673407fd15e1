"""RFC 9457 problem documents (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from megalayer.accounts.roles import MISSING_PERMISSION_HEADER
from megalayer.core.errors import DomainError, RateLimited
from megalayer.core.problems import PROBLEM_CONTENT_TYPE, problem_response

__all__ = ["PROBLEM_CONTENT_TYPE", "field_errors_from_validation", "problem_from_domain_error", "problem_response"]


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
