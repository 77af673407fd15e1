"""The JSON API, version 1 (``/api/v1/``), per ``shared/design/api.md``."""

from __future__ import annotations

import math

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from megalayer.api.auth import TokenAuth
from megalayer.api.openapi import MegalayerAPI
from megalayer.api.problems import field_errors_from_validation, problem_from_domain_error, problem_response
from megalayer.api.resources import (
    abuse,
    affiliate,
    auth,
    billing,
    hooks,
    me,
    notices,
    privacy,
    servers,
    services,
    ssh_keys,
    staff_accounts,
    staff_billing,
    staff_provisioning,
    staff_services,
    terms,
    tickets,
)
from megalayer.api.throttling import AddressThrottle, TokenThrottle
from megalayer.core.errors import DomainError, RateLimited

api = MegalayerAPI(
    title="Megalayer API",
    version="1",
    description="Customers automate their servers and staff integrate their tools. Errors are RFC 9457 documents.",
    auth=TokenAuth(),
    throttle=[AddressThrottle(), TokenThrottle()],
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("", me.router)
api.add_router("", terms.router)
api.add_router("", auth.router)
api.add_router("", hooks.router)
api.add_router("", billing.router)
api.add_router("", staff_billing.router)
api.add_router("", services.router)
api.add_router("", staff_services.router)
api.add_router("", servers.router)
api.add_router("", ssh_keys.router)
api.add_router("", staff_provisioning.router)
api.add_router("", tickets.router)
api.add_router("", abuse.router)
api.add_router("", abuse.staff_router)
api.add_router("", privacy.router)
api.add_router("", privacy.staff_router)
api.add_router("", notices.router)
api.add_router("", staff_accounts.router)
api.add_router("", affiliate.router)
api.add_router("", affiliate.staff_router)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    return problem_from_domain_error(error)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    errors = field_errors_from_validation(list(error.errors))
    return problem_response(
        status=422, slug="invalid-input", title="Invalid input", detail="The request has invalid fields.", errors=errors
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return problem_response(
        status=401,
        slug="unauthenticated",
        title="Unauthenticated",
        detail="Send a valid API token: Authorization: Bearer <token>.",
        headers={"WWW-Authenticate": 'Bearer realm="megalayer"'},
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return problem_response(status=404, slug="not-found", title="Not found", detail="Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    slug = "malformed-request" if error.status_code == 400 else "http-error"
    return problem_response(status=error.status_code, slug=slug, title="Bad request", detail=str(error))


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, error: Throttled) -> HttpResponse:
    """ninja's throttles, answered as every other 429 of the platform (the sign-in lockout's too)."""
    wait = max(math.ceil(error.wait or 1), 1)
    limited = RateLimited(f"The API's rate limit is reached; try again in {wait} seconds.", retry_after=wait)
    return problem_from_domain_error(limited)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
    return problem_response(status=403, slug="forbidden", title="Forbidden", detail=str(error) or "Forbidden.")
