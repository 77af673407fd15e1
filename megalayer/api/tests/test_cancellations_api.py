"""Cancellation through the API (issue 20): request at the end of the term, read, withdraw; "now" only with
the no-refund confirmation; bad input is RFC 9457 JSON naming the field; another customer's service is a 404
with nothing written; staff list the requests with their reasons."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from megalayer.accounts.models import User
from megalayer.billing.tests.conftest import fund
from megalayer.conftest import bearer, make_staff
from megalayer.core import clock
from megalayer.services.models import Cancellation, Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
JSON = "application/json"
T0 = dt.datetime(2027, 6, 2, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def service(alice, vps, django_capture_on_commit_callbacks) -> Service:
    with_billing(alice)
    fund(alice, "10.00")
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        Client().post("/api/v1/orders", json.dumps({"product": vps.code}), content_type=JSON, **bearer(alice.owner))
    return Service.objects.get(customer=alice)


def _call(method: str, url: str, headers: dict[str, Any], capture: Any, body: Any = None) -> Any:
    with clock.travel(T0 + dt.timedelta(days=3)), capture(execute=True):
        client = Client()
        if body is None:
            return getattr(client, method)(url, **headers)
        return getattr(client, method)(url, json.dumps(body), content_type=JSON, **headers)


def test_cancel_at_the_end_of_the_term_read_and_withdraw(alice, service, django_capture_on_commit_callbacks):
    headers = bearer(alice.owner)
    url = f"/api/v1/services/{service.public_id}/cancellation"
    cap = django_capture_on_commit_callbacks
    assert _call("get", url, headers, cap).status_code == 404
    created = _call("post", url, headers, cap, {"when": "end_of_term", "reason": "price", "comment": "cheaper"})
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["when"], body["reason"], body["comment"]) == (
        "pending",
        "end_of_term",
        "price",
        "cheaper",
    )
    assert body["effective_at"] == service.paid_until.isoformat().replace("+00:00", "Z")
    detail = _call("get", f"/api/v1/services/{service.public_id}", headers, cap).json()
    assert (detail["cancel_at"], detail["next_step"]) == (body["effective_at"], "Ends (cancelled by you)")
    assert _call("get", url, headers, cap).json() == body
    withdrawn = _call("delete", url, headers, cap)
    assert (withdrawn.status_code, withdrawn.json()["status"]) == (200, "withdrawn")
    assert _call("get", f"/api/v1/services/{service.public_id}", headers, cap).json()["cancel_at"] is None
    again = _call("delete", url, headers, cap)
    assert (again.status_code, again.json()["type"].rsplit("/", 1)[-1]) == (409, "no-cancellation")


def test_now_needs_the_confirmation_and_then_ends_the_service(alice, service, django_capture_on_commit_callbacks):
    headers = bearer(alice.owner)
    url = f"/api/v1/services/{service.public_id}/cancellation"
    cap = django_capture_on_commit_callbacks
    refused = _call("post", url, headers, cap, {"when": "now", "reason": "moving"})
    problem = refused.json()
    assert (refused.status_code, refused["Content-Type"]) == (422, "application/problem+json")
    assert problem["errors"][0]["field"] == "confirm"
    assert "not refunded" in problem["detail"]
    assert (Cancellation.objects.count(), Service.objects.get().status) == (0, "active")
    done = _call("post", url, headers, cap, {"when": "now", "reason": "moving", "confirm": True})
    assert (done.status_code, done.json()["status"]) == (201, "done")
    assert Service.objects.get().status == "terminated"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"when": "later", "reason": "price"}, "when"),
        ({"when": "now"}, "reason"),
        ({"when": "end_of_term", "reason": "price", "comment": "x" * 2001}, "comment"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(alice, service, django_capture_on_commit_callbacks, body, field):
    url = f"/api/v1/services/{service.public_id}/cancellation"
    refused = _call("post", url, bearer(alice.owner), django_capture_on_commit_callbacks, body)
    assert refused.status_code == 422
    assert field in json.dumps(refused.json()["errors"])
    assert (Cancellation.objects.count(), Service.objects.get().cancel_at) == (0, None)


def test_another_customers_service_is_not_found_and_nothing_is_written(
    bob, service, django_capture_on_commit_callbacks
):
    url = f"/api/v1/services/{service.public_id}/cancellation"
    headers = bearer(bob.owner)
    cap = django_capture_on_commit_callbacks
    for method, body in (
        ("get", None),
        ("post", {"when": "now", "reason": "price", "confirm": True}),
        ("delete", None),
    ):
        assert _call(method, url, headers, cap, body).status_code == 404
    assert (Cancellation.objects.count(), Service.objects.get().status) == (0, "active")


def test_a_read_only_token_cannot_cancel(alice, service, django_capture_on_commit_callbacks):
    url = f"/api/v1/services/{service.public_id}/cancellation"
    refused = _call("post", url, bearer(alice.owner, scope="read"), django_capture_on_commit_callbacks,
                    {"when": "end_of_term", "reason": "price"})  # fmt: skip
    assert refused.status_code == 403
    assert Cancellation.objects.count() == 0


def test_staff_list_the_requests_with_reasons_and_support_may_read_them(
    alice, service, django_capture_on_commit_callbacks
):
    cap = django_capture_on_commit_callbacks
    url = f"/api/v1/services/{service.public_id}/cancellation"
    _call("post", url, bearer(alice.owner), cap, {"when": "end_of_term", "reason": "support", "comment": "slow"})
    support: User = make_staff("support@megalayer.test", "support")
    listed = _call("get", "/api/v1/staff/cancellations?status=pending", bearer(support, staff=True), cap)
    assert listed.status_code == 200
    [row] = listed.json()["items"]
    assert (row["service"], row["reason"], row["comment"], row["status"]) == (
        service.public_id, "support", "slow", "pending",
    )  # fmt: skip
    headers = bearer(support, staff=True)
    assert _call("get", "/api/v1/staff/cancellations?status=withdrawn", headers, cap).json()["items"] == []
    assert len(_call("get", f"/api/v1/staff/cancellations?q={alice.owner.email}", headers, cap).json()["items"]) == 1
    customer_token = _call("get", "/api/v1/staff/cancellations", bearer(alice.owner), cap)
    assert customer_token.status_code == 403
