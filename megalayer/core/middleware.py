"""Refuse NUL characters in what a request sends before anything reaches the database.

PostgreSQL cannot store U+0000 in text, so a NUL in a query parameter, a form field or a
JSON string would end in a database error (a 500) wherever it is used. No legitimate
input of this platform contains one; raw bodies (mail, abuse reports) are bytes and are
not affected. The API answers with an RFC 9457 problem naming the field; pages with a
plain 400.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from megalayer.core.problems import problem_response

NUL = "\x00"


def _offending_field(request: HttpRequest) -> str | None:
    if NUL in request.path:
        return "path"
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in v for v in values):
            return key.replace(NUL, "") or "query"
    content_type = request.content_type or ""
    api = request.path.startswith("/api/")
    # Pages: form fields (reading request.POST here is what the view would do anyway). Not in the API: its
    # views and the idempotency middleware read the raw body, which a parsed multipart stream no longer has.
    form = ("application/x-www-form-urlencoded", "multipart/form-data")
    if request.method == "POST" and not api and content_type in form:
        for key, values in request.POST.lists():
            if NUL in key or any(NUL in v for v in values):
                return key.replace(NUL, "") or "body"
    if api and content_type == "application/json" and b"\\u0000" in request.body:
        return _json_path(request.body) or "body"
    return None


def _json_path(body: bytes) -> str | None:
    """The dotted path of the first JSON value (or key) holding a NUL, so the error names the field."""
    try:
        document = json.loads(body)
    except ValueError:
        return None

    def walk(value: object, path: list[str]) -> str | None:
        if isinstance(value, str):
            return ".".join(path) if NUL in value else None
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            if NUL in str(key):
                return ".".join([*path, str(key).replace(NUL, "")])
            found = walk(item, [*path, str(key)])
            if found:
                return found
        return None

    return walk(document, [])


class NulGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _offending_field(request)
        if field is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return problem_response(
                status=422,
                slug="invalid-input",
                title="Invalid input",
                detail="Text may not contain NUL characters.",
                errors=[{"field": field, "message": "contains a NUL character"}],
            )
        return HttpResponseBadRequest("Text may not contain NUL characters.")


class PermissionsPolicyMiddleware:
    """Send ``Permissions-Policy`` (``settings.MEGALAYER_PERMISSIONS_POLICY``) with every response.

    Django sets CSP, HSTS, Referrer-Policy and the opener policy itself but has no setting for this header;
    turning off the browser features the platform never uses limits what injected or framed content could ask for.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy: str = settings.MEGALAYER_PERMISSIONS_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.policy)
        return response
