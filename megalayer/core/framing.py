"""Pages that the platform's own pages show in a frame (the printable invoice).

Every other response forbids framing (``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``, against
clickjacking). A framed document must relax both, and only to the same origin: browsers that understand CSP
ignore ``X-Frame-Options`` once ``frame-ancestors`` is present, so relaxing one alone would not be enough.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.csp import CSP
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override

View = Callable[..., HttpResponse]


def framed_by_own_pages(view: View) -> View:
    same_origin = xframe_options_sameorigin(view)

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        policy: dict[str, Any] = {**settings.SECURE_CSP, "frame-ancestors": [CSP.SELF]}
        response: HttpResponse = csp_override(policy)(same_origin)(request, *args, **kwargs)
        return response

    return wrapped
