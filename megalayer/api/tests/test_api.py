import json
from typing import Any

import pytest
from django.test import Client

from megalayer.accounts.models import ApiToken
from megalayer.conftest import PASSWORD, bearer
from megalayer.terms.models import TermsAcceptance

pytestmark = pytest.mark.django_db


def test_requests_without_a_token_get_401_problem_json(terms_v1):
    for path in ("/api/v1/me", "/api/v1/terms/current"):
        response = Client().get(path)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/unauthenticated"
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION="Bearer mgl_nope_nope")
    assert response.status_code == 401


def test_me_shows_the_account_and_no_secrets(alice):
    headers = bearer(alice.owner, scope="read")
    body = Client().get("/api/v1/me", **headers).json()
    assert body["id"] == alice.public_id
    assert body["email"] == "alice@example.com"
    assert (body["terms_accepted_version"], body["terms_current_version"]) == (1, 1)
    assert "password" not in json.dumps(body)
    token = ApiToken.objects.get(user=alice.owner)
    assert token.secret_hash not in json.dumps(body)
    assert token.last_used_at is not None


def test_terms_current_and_accept(alice):
    read, write = bearer(alice.owner, scope="read"), bearer(alice.owner, scope="write")
    current = Client().get("/api/v1/terms/current", **read).json()
    assert current["version"] == 1
    assert current["policy"]["reinstall"] == {"free_per_month": 1, "fee": {"amount": "5.00", "currency": "USD"}}
    refused = Client().post("/api/v1/terms/1/accept", **read)
    assert refused.status_code == 403
    accepted = Client().post("/api/v1/terms/1/accept", **write)
    assert accepted.status_code == 200
    assert accepted.json()["method"] == "signup"  # accepted at sign-up already; the first record stands
    missing = Client().post("/api/v1/terms/7/accept", **write)
    assert (missing.status_code, missing.json()["type"]) == (404, "/problems/not-found")
    assert TermsAcceptance.objects.filter(user=alice.owner).count() == 1


def _ticket(headers: dict[str, Any], key: str, subject: str = "Disk is slow") -> Any:
    body = {"department": "technical", "subject": subject, "body": "Since this morning."}
    return Client().post(
        "/api/v1/tickets", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **headers
    )


def test_idempotency_key_replays_the_first_response_byte_for_byte(alice, staff):
    from megalayer.support.models import Ticket

    headers = bearer(alice.owner)
    first, again = _ticket(headers, "abc"), _ticket(headers, "abc")
    assert first.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.filter(customer=alice).count() == 1
    other = _ticket(headers, "abc", subject="Another subject")
    assert other.status_code == 422
    assert other.json()["errors"] == [
        {"field": "Idempotency-Key", "message": "already used with a different request body"}
    ]
    assert Ticket.objects.filter(customer=alice).count() == 1


def test_a_replay_belongs_to_the_token_that_made_the_request(alice):
    """Issue 14, item 4: another token of the same customer (here a read-only one) is not answered with the
    first token's response; for it the key is new, and a read-only token cannot write."""
    from megalayer.support.models import Ticket

    first = _ticket(bearer(alice.owner), "k1")
    assert first.status_code == 201
    reader = _ticket(bearer(alice.owner, scope="read"), "k1")
    assert reader.status_code == 403
    assert "Idempotent-Replayed" not in reader
    assert first.json()["id"].encode() not in reader.content
    assert Ticket.objects.filter(customer=alice).count() == 1


def test_a_response_holding_a_secret_is_not_kept_nor_replayed(alice):
    """Issue 14, item 4: a new API token (or root password) is shown once; its retry is refused, not replayed,
    and nothing of it is stored."""
    from megalayer.api.models import IdempotencyRecord

    headers = bearer(alice.owner)
    body = json.dumps({"email": "alice@example.com", "password": PASSWORD, "name": "ci", "scope": "read"})
    first = Client().post(
        "/api/v1/auth/tokens", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="t1", **headers
    )
    assert first.status_code == 201
    secret = first.json()["token"]
    again = Client().post(
        "/api/v1/auth/tokens", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="t1", **headers
    )
    assert (again.status_code, again.json()["type"]) == (409, "/problems/idempotency-secret-withheld")
    assert secret.encode() not in again.content
    record = IdempotencyRecord.objects.get(key="t1")
    assert (record.withheld, record.status_code, bytes(record.body), record.content_type) == (True, 201, b"", "")
    assert ApiToken.objects.filter(user=alice.owner, name="ci").count() == 1  # not made twice


def test_validation_errors_are_422_with_the_field(terms_v1):
    response = Client().post(
        "/api/v1/auth/tokens",
        json.dumps({"email": "a@b.c", "password": "x", "scope": "admin"}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "scope"
    broken = Client().post("/api/v1/auth/tokens", "{not json", content_type="application/json")
    assert broken.status_code in (400, 422)
    assert broken["Content-Type"] == "application/problem+json"


def test_openapi_document_is_generated(terms_v1):
    response = Client().get("/api/v1/openapi.json")
    repeated: list[str] = []

    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        repeated.extend(key for key in set(keys) if keys.count(key) > 1)
        return dict(pairs)

    # A key twice (ninja's 200 next to an openapi_extra "200") is valid to Python's json and a parse error to
    # Swagger UI's YAML reader, which then shows no operation at all.
    schema = json.loads(response.content, object_pairs_hook=no_repeats)
    assert repeated == []
    assert schema["openapi"].startswith("3.1")
    assert {"/api/v1/me", "/api/v1/terms/current", "/api/v1/terms/{version}/accept", "/api/v1/auth/tokens"} <= set(
        schema["paths"]
    )


@pytest.mark.parametrize("limit", ["0", "101", "-1"])
def test_paging_limits_are_declared_and_enforced(alice, limit):
    from megalayer.conftest import bearer

    response = Client().get(f"/api/v1/invoices?limit={limit}", **bearer(alice.owner))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["limit"]
    schema = Client().get("/api/v1/openapi.json").json()
    lists = [
        (path, param["schema"])
        for path, item in schema["paths"].items()
        for param in item.get("get", {}).get("parameters", [])
        if param["name"] == "limit"
    ]
    assert len(lists) >= 10
    assert {(s["minimum"], s["maximum"], s["default"]) for _, s in lists} == {(1, 100, 25)}
