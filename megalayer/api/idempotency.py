"""The ``Idempotency-Key`` header for every creating or charging POST of the API.

Same key and same body: the first response is replayed byte for byte. Same key
and another body: 422. A duplicate arriving while the first is still running:
409 with ``Retry-After``. Keys live 24 hours. Being middleware, it covers every
POST of the API without each endpoint having to remember it.

A key belongs to the token that sent it: another token of the same account (a read-only one, say) meets
nothing of it. A response that holds a secret shown once (``SECRET_FIELDS``: a new API token, a new root
password) is not stored: a retry of it is refused with 409 ``idempotency-secret-withheld`` and the action
is not done again, so the secret is neither kept for a day nor shown twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse

from megalayer.accounts.actions import token_authenticate
from megalayer.accounts.models import ApiToken
from megalayer.api.models import IdempotencyRecord
from megalayer.api.problems import problem_response
from megalayer.core import clock

HEADER = "HTTP_IDEMPOTENCY_KEY"
KEY_LIFETIME = dt.timedelta(hours=24)
# Fields of a JSON response that carry a secret shown once; a response holding one is never stored.
SECRET_FIELDS = frozenset({"token", "password", "secret"})


def holds_secret(content_type: str, body: bytes) -> bool:
    if "json" not in content_type:
        return False
    try:
        document = json.loads(body)
    except ValueError:
        return False

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return any((k in SECRET_FIELDS and v) or walk(v) for k, v in node.items())
        if isinstance(node, list):
            return any(walk(item) for item in node)
        return False

    return walk(document)


def bearer_token(request: HttpRequest) -> str | None:
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith("/api/"):
            return self.get_response(request)
        plaintext = bearer_token(request)
        token = token_authenticate(plaintext) if plaintext else None
        if token is None:
            return self.get_response(request)  # the endpoint answers 401 itself
        if not key.strip() or len(key) > 255:
            return problem_response(
                status=422,
                slug="invalid-idempotency-key",
                title="Invalid input",
                detail="Idempotency-Key must be 1 to 255 characters.",
                errors=[{"field": "Idempotency-Key", "message": "must be 1 to 255 characters"}],
            )
        return self._run_once(request, token, key)

    def _run_once(self, request: HttpRequest, token: ApiToken, key: str) -> HttpResponse:
        digest = hashlib.sha256(b"%s\n%s\n%s" % ((request.method or "").encode(), request.path.encode(), request.body))
        request_hash = digest.hexdigest()
        now = clock.now()
        IdempotencyRecord.objects.filter(token=token, key=key, created_at__lt=now - KEY_LIFETIME).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=token.user,
                    token=token,
                    key=key,
                    method=request.method or "POST",
                    path=request.path,
                    request_hash=request_hash,
                    created_at=now,
                )
        except IntegrityError:
            return self._replay(token, key, request_hash)
        response = self.get_response(request)
        if response.status_code >= 500:
            record.delete()  # nothing usable to replay: let the client retry
            return response
        content_type = response.get("Content-Type", "")
        body = bytes(response.content)
        withheld = holds_secret(content_type, body)
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code,
            content_type="" if withheld else content_type,
            body=b"" if withheld else body,
            withheld=withheld,
        )
        return response

    def _replay(self, token: ApiToken, key: str, request_hash: str) -> HttpResponse:
        record = IdempotencyRecord.objects.filter(token=token, key=key).first()
        if record is None:
            return problem_response(
                status=409,
                slug="idempotency-retry",
                title="Conflict",
                detail="A request with this Idempotency-Key just finished; retry.",
                headers={"Retry-After": "1"},
            )
        if record.request_hash != request_hash:
            return problem_response(
                status=422,
                slug="idempotency-key-reused",
                title="Invalid input",
                detail="This Idempotency-Key was used with a different request.",
                errors=[{"field": "Idempotency-Key", "message": "already used with a different request body"}],
            )
        if record.status_code is None:
            return problem_response(
                status=409,
                slug="idempotency-in-progress",
                title="Conflict",
                detail="A request with this Idempotency-Key is still running.",
                headers={"Retry-After": "1"},
            )
        if record.withheld:
            return problem_response(
                status=409,
                slug="idempotency-secret-withheld",
                title="Conflict",
                detail=(
                    "This request was already carried out; its response held a secret that is shown once "
                    "and not kept, so it cannot be replayed."
                ),
            )
        response = HttpResponse(bytes(record.body), status=record.status_code, content_type=record.content_type)
        response["Idempotent-Replayed"] = "true"
        return response
