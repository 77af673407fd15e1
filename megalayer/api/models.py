"""Stored responses for the ``Idempotency-Key`` header."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first response to a (token, key) pair, replayed byte for byte for 24 hours.

    A row is inserted *before* the request runs (``status_code`` null while in
    progress), so a concurrent duplicate meets the unique constraint and is told
    to retry instead of running the request a second time.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Replays are bound to the token that made the request (issue 14): another token of the same account,
    # a read-only one say, never sees the first response.
    token = models.ForeignKey("accounts.ApiToken", on_delete=models.CASCADE, related_name="+", null=True)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=128, blank=True)
    body = models.BinaryField(blank=True, default=b"")
    # The first response held a secret shown once (a token, a password): it is not kept, so not replayed.
    withheld = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_once_per_token")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
