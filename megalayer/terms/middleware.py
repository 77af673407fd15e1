"""Continued use after a new version's effective time counts as acceptance (TOS-ACCEPT-2)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from megalayer.terms.actions import RequestInfo, terms_record_continued_use


def request_info(request: HttpRequest) -> RequestInfo:
    """The client address as the WSGI server saw it (a trusted proxy sets REMOTE_ADDR)."""
    return RequestInfo(
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


class ContinuedUseMiddleware:
    """On a signed-in customer's request, record acceptance of the version in force if missing.

    The client area then shows the 'what changed' page until the customer
    dismisses it. API requests are recorded by the API's token check instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            terms_record_continued_use(user=user, request_info=request_info(request))
        return self.get_response(request)
