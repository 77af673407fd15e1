"""The ``Idempotency-Key`` header for every creating or charging POST of the API.

Same key and same body: the first response is replayed byte for byte. Same key
and another body: 422. A duplicate arriving while the first is still running:
409 with ``Retry-After``. Keys live 24 hours. Being middleware, it covers every
POST of the API without each endpoint having to remember it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse

from megalayer.accounts.actions import token_authenticate
from megalayer.accounts.models import User
from megalayer.api.models import IdempotencyRecord
from megalayer.api.problems import problem_response
from megalayer.core import clock

HEADER = "HTTP_IDEMPOTENCY_KEY"
KEY_LIFETIME = dt.timedelta(hours=24)


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
        return self._run_once(request, token.user, key)

    def _run_once(self, request: HttpRequest, user: User, key: str) -> HttpResponse:
        digest = hashlib.sha256(b"%s\n%s\n%s" % ((request.method or "").encode(), request.path.encode(), request.body))
        request_hash = digest.hexdigest()
        now = clock.now()
        IdempotencyRecord.objects.filter(user=user, key=key, created_at__lt=now - KEY_LIFETIME).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user,
                    key=key,
                    method=request.method or "POST",
                    path=request.path,
                    request_hash=request_hash,
                    created_at=now,
                )
        except IntegrityError:
            return self._replay(user, key, request_hash)
        response = self.get_response(request)
        if response.status_code >= 500:
            record.delete()  # nothing usable to replay: let the client retry
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=bytes(response.content),
        )
        return response

    def _replay(self, user: User, key: str, request_hash: str) -> HttpResponse:
        record = IdempotencyRecord.objects.filter(user=user, key=key).first()
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
        response = HttpResponse(bytes(record.body), status=record.status_code, content_type=record.content_type)
        response["Idempotent-Replayed"] = "true"
        return response
