"""Property-based tests over the generated OpenAPI document: no input makes a 500, and no response
contradicts the document (status code, content type, headers, body schema), per operation and in stateful
sequences that feed one response's IDs into the next request (issue 14, item 17).

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
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from megalayer.api.tests.test_servers_api import alice_server  # noqa: F401 (a fixture: a live server to act on)
from megalayer.conftest import bearer

# Every way a response can contradict the document. Not the input-acceptance checks: the document cannot say
# that a refused password or an unknown invoice ID is refused.
CONFORMANCE = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

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


def _schema() -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


def _operations() -> list[Any]:
    return [result.ok() for result in _schema().get_all_operations()]


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
            response = case.call(headers=authorization)
            _check(response)
            case.validate_response(response, checks=CONFORMANCE)

        run()


@pytest.mark.usefixtures("alice_server")
@pytest.mark.parametrize("who", ["customer", "staff"])
def test_stateful_sequences_never_contradict_the_schema(alice: Any, staff: Any, who: str) -> None:
    """Sequences of up to six calls, each taking IDs from earlier answers (links schemathesis infers from the
    document), on a customer with a running server and an invoice, with a customer's and a staff token."""
    # The fixture's own test-client requests hooked Django's connection closing back on (the test client
    # reconnects it after each request); schemathesis' WSGI calls must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    token = bearer(staff, staff=True) if who == "staff" else bearer(alice.owner, scope="write")
    headers = {"Authorization": token["HTTP_AUTHORIZATION"]}
    machine = _schema().as_state_machine()
    answered: list[tuple[str, int]] = []

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            answered.append((case.operation.path, response.status_code))
            _check(response)
            case.validate_response(response, checks=CONFORMANCE)

    Sequences.run(
        settings=settings(
            max_examples=60,
            stateful_step_count=6,
            derandomize=True,  # the same sequences on every run: what they reach below is not luck
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
    # The random walk follows links only as far as its draws take it, and those depend on the database's
    # answers (SQLite and PostgreSQL order ties differently): it is the contradiction finder. That answers
    # with IDs lead to operations that work is checked without luck below, for the customer.
    assert any(200 <= status < 300 for _, status in answered), sorted(set(answered))
    if who == "customer":
        reached = _follow_the_services_links(headers)
        assert ("/api/v1/services/{service_id}", 200) in reached, reached
        assert ("/api/v1/services/{service_id}/server", 200) in reached, reached


def _follow_the_services_links(headers: dict[str, str]) -> list[tuple[str, int]]:
    """Every GET that takes only a service ID, called with each ID the services list answers, each answer
    checked against the document: the links the state machine may or may not walk, walked on purpose."""
    listing = _schema()["/api/v1/services"]["GET"].Case(headers=headers)
    response = listing.call()
    listing.validate_response(response, checks=CONFORMANCE)
    service_ids = [item["id"] for item in response.json()["items"]]
    assert service_ids
    reached: list[tuple[str, int]] = []
    for operation in _operations():
        parameters = {parameter.name for parameter in operation.iter_parameters() if parameter.location == "path"}
        if operation.method.upper() != "GET" or parameters != {"service_id"}:
            continue
        for service_id in service_ids:
            case = operation.Case(path_parameters={"service_id": service_id}, headers=headers)
            answer = case.call()
            _check(answer)
            case.validate_response(answer, checks=CONFORMANCE)
            reached.append((operation.path, answer.status_code))
    return sorted(set(reached))


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
