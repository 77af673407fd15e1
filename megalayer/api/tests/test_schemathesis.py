"""Property-based tests over the generated OpenAPI document: no input makes a 500.

Schemathesis generates the requests from ``/api/v1/openapi.json``; each
operation is driven through Hypothesis directly (its pytest plugin does not
load under the pytest this project pins).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings

from megalayer.conftest import bearer

# Signed hooks and the token endpoint answer without a bearer token (422 for a bad signature or body).
PUBLIC = {"/api/v1/auth/tokens", "/api/v1/hooks/stripe", "/api/v1/hooks/attack-alarms", "/api/v1/hooks/inbound-mail"}

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Any) -> None:
    """Thousands of generated requests with one token: the limits would answer most of them with 429."""
    settings.MEGALAYER_API_RATES = {"token": None, "address": None}


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Requests go straight to the WSGI app, whose request signals would close the
    connection holding the test's transaction; Django's own test client unhooks
    them the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _operations() -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type")
        assert content_type in ("application/problem+json", ["application/problem+json"]), (
            response.status_code,
            response.headers,
            response.text,
        )


def test_no_input_makes_a_server_error(alice: Any) -> None:
    authorization = {"Authorization": bearer(alice.owner, scope="write")["HTTP_AUTHORIZATION"]}
    operations = _operations()
    assert len(operations) >= 4

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            _check(case.call(headers=authorization))

        run()


def test_without_a_token_every_private_operation_is_401(alice: Any) -> None:
    for operation in _operations():

        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            case.headers = headers
            response = case.call()
            _check(response)
            if case.operation.path not in PUBLIC:
                # A NUL character is refused before anything else, authentication included (core.middleware).
                nul = response.status_code == 422 and "NUL" in response.text
                assert response.status_code == 401 or nul

        run()
