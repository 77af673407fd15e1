"""Issue 14, item 13: API rate limits per token and per client address, 429 with Retry-After, in the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from megalayer.accounts.models import ApiToken
from megalayer.conftest import PASSWORD, bearer
from megalayer.core import clock

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2027, 3, 1, 0, 0, 30, tzinfo=dt.UTC)


def _limits(settings: Any, *, token: str | None = None, address: str | None = None) -> None:
    settings.MEGALAYER_API_RATES = {"token": token, "address": address}


def _assert_limited(response: Any, retry_after: str) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == retry_after
    body = response.json()
    assert (body["type"], body["status"]) == ("/problems/rate-limited", 429)
    assert body["detail"] == f"The API's rate limit is reached; try again in {retry_after} seconds."


def test_each_token_has_its_own_allowance_and_the_window_slides(settings, alice):
    _limits(settings, token="3/min")
    first, second = bearer(alice.owner), bearer(alice.owner)
    client = Client()
    with clock.travel(MOMENT):
        assert [client.get("/api/v1/me", **first).status_code for _ in range(3)] == [200, 200, 200]
        _assert_limited(client.get("/api/v1/me", **first), "60")
        assert client.get("/api/v1/me", **second).status_code == 200  # the customer's other token
    with clock.travel(MOMENT + dt.timedelta(seconds=45)):
        _assert_limited(client.get("/api/v1/me", **first), "15")
    with clock.travel(MOMENT + dt.timedelta(seconds=60)):
        assert client.get("/api/v1/me", **first).status_code == 200


def test_each_client_address_has_an_allowance_that_x_forwarded_for_cannot_escape(settings, alice):
    _limits(settings, address="2/min")
    token = bearer(alice.owner)
    office, other = Client(REMOTE_ADDR="198.51.100.7"), Client(REMOTE_ADDR="198.51.100.8")
    with clock.travel(MOMENT):
        assert [office.get("/api/v1/me", **token).status_code for _ in range(2)] == [200, 200]
        _assert_limited(office.get("/api/v1/me", **token), "60")
        _assert_limited(office.get("/api/v1/me", HTTP_X_FORWARDED_FOR="203.0.113.9", **token), "60")
        assert other.get("/api/v1/me", **token).status_code == 200


def test_refused_tokens_count_against_the_address(settings, alice):
    _limits(settings, address="3/min")
    client = Client(REMOTE_ADDR="198.51.100.7")
    wrong: dict[str, Any] = {"HTTP_AUTHORIZATION": "Bearer mgl_aaaaaaaa_" + "b" * 43}
    with clock.travel(MOMENT):
        assert [client.get("/api/v1/me", **wrong).status_code for _ in range(3)] == [401, 401, 401]
        _assert_limited(client.get("/api/v1/me", **wrong), "60")
        _assert_limited(client.get("/api/v1/me", **bearer(alice.owner)), "60")


def test_a_limited_write_changes_nothing(settings, alice):
    _limits(settings, address="1/min")
    client = Client(REMOTE_ADDR="198.51.100.7")
    body = {"email": "alice@example.com", "password": PASSWORD, "scope": "read"}
    with clock.travel(MOMENT):
        made = client.post("/api/v1/auth/tokens", body, content_type="application/json")
        assert made.status_code == 201
        before = list(ApiToken.objects.values_list("pk", flat=True))
        _assert_limited(client.post("/api/v1/auth/tokens", body, content_type="application/json"), "60")
    assert list(ApiToken.objects.values_list("pk", flat=True)) == before


def test_the_defaults_are_on_and_configurable():
    from django.conf import settings

    assert settings.MEGALAYER_API_RATES == {"token": "300/min", "address": "600/min"}
    assert settings.NINJA_NUM_PROXIES == 0


def test_every_operation_declares_the_429_with_retry_after_and_problem_bodies():
    schema = Client().get("/api/v1/openapi.json").json()
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) > 80
    for path, method, operation in operations:
        responses = operation["responses"]
        limited = responses["429"]
        assert limited["headers"]["Retry-After"]["schema"]["type"] == "integer", (path, method)
        for status, response in responses.items():
            content = set(response.get("content", {}))
            if int(status) >= 400:
                assert content == {"application/problem+json"}, (path, method, status)
