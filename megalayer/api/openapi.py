"""What every operation of the API can answer besides its own responses, added to the OpenAPI document.

Declaring these once here, rather than on each of eighty operations, keeps the document true as operations
are added: errors are RFC 9457 documents (``application/problem+json``, not ``application/json``), every
operation can be rate limited (429 with ``Retry-After``), every operation with parameters or a body can be
refused as invalid (422), a body that is not JSON is a 400, and a write repeated with the same
``Idempotency-Key`` and another body is a 409 (``api/idempotency.py``).
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema

from megalayer.api.problems import PROBLEM_CONTENT_TYPE

PROBLEM = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the next request is allowed.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
WRITES = {"post", "put", "patch", "delete"}


def _problem(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": PROBLEM, **extra}


def _complete(method: str, operation: dict[str, Any]) -> None:
    # ninja keys responses by int; one key type, so nothing appears twice in the JSON.
    responses = {int(status): response for status, response in operation.get("responses", {}).items()}
    for status, response in responses.items():
        content = response.get("content", {})
        if status >= 400 and "application/json" in content:
            content[PROBLEM_CONTENT_TYPE] = content.pop("application/json")
    limited = responses.setdefault(429, _problem("Too many requests (rate limit)."))
    limited["headers"] = RETRY_AFTER
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault(422, _problem("Invalid input: `errors` names each field."))
    if operation.get("requestBody"):
        responses.setdefault(400, _problem("The body is not valid JSON."))
    if method in WRITES:
        responses.setdefault(409, _problem("Conflict: the Idempotency-Key was used with another body."))
    if operation.get("security"):
        responses.setdefault(401, _problem("No valid API token."))
    operation["responses"] = dict(sorted(responses.items()))


class MegalayerAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        schema = super().get_openapi_schema(**kwargs)
        for item in schema["paths"].values():
            for method, operation in item.items():
                if isinstance(operation, dict) and method in {"get", *WRITES}:
                    _complete(method, operation)
        return schema
