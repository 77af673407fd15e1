"""Steps the conformance tests share: each goes through a public face (the API, the client area, the back
office) the way a customer, a staff member or an API client would, and reads results back the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from megalayer.accounts.models import Customer, User
from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import Product
from megalayer.conftest import bearer, record_sign_in
from megalayer.services.tests.conftest import with_billing

JSON = "application/json"


@dataclass
class Api:
    """One API client with its bearer token."""

    headers: dict[str, Any]
    client: Client = field(default_factory=Client)

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}", **self.headers)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(f"/api/v1{path}", json.dumps(body or {}), content_type=JSON, **self.headers)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.patch(f"/api/v1{path}", json.dumps(body), content_type=JSON, **self.headers)


def customer_api(customer: Customer) -> Api:
    return Api(bearer(customer.owner, scope="write"))


def staff_api(user: User) -> Api:
    return Api(bearer(user, scope="write", staff=True))


def portal(customer: Customer) -> Client:
    """The client area, signed in as ``customer``."""
    return record_sign_in(Client(), customer.owner)


def running_service(customer: Customer, product: Product, capture: Any, *, funds: str = "10.00") -> str:
    """Billing data, a top-up and an order through the API, paid from the balance: the service's public ID."""
    with_billing(customer)
    fund(customer, funds)
    with capture(execute=True):
        placed = customer_api(customer).post("/orders", {"product": product.code, "os_image": "debian-12"})
    assert placed.status_code == 201, placed.content
    service: str = placed.json()["service"]
    return service


def notices(api: Api, kind: str) -> list[dict[str, Any]]:
    """The customer's notices of ``kind``, read through the API with their text."""
    listing = api.get("/notices?limit=100").json()["items"]
    return [api.get(f"/notices/{n['id']}").json() for n in listing if n["kind"] == kind]


def audit(action: str, target_id: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, target_id=target_id).order_by("id"))
