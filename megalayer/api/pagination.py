"""Cursor pagination (``?cursor=…&limit=…``, ``next`` in the body), newest first by id."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any

from django.db.models import Model, QuerySet
from ninja import Query

from megalayer.core.errors import InvalidInput

MAX_LIMIT = 100

# The paging parameters of every list operation, with their limits in the OpenAPI document (issue 14, item 17):
# ``limit: Limit = 25, cursor: Cursor = None``.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}.")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="The `next` value of the previous page; empty for the first.")
]


def _decode(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(
            "The cursor is not valid; use the 'next' value of the previous page.", field="cursor"
        ) from error


def _encode(pk: int) -> str:
    return base64.urlsafe_b64encode(str(pk).encode()).decode().rstrip("=")


def paginate[M: Model](
    queryset: QuerySet[M], *, cursor: str | None, limit: int, render: Callable[[M], Any]
) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
    rows = queryset.order_by("-pk")
    if cursor:
        rows = rows.filter(pk__lt=_decode(cursor))
    page = list(rows[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    return {"items": [render(row) for row in page], "next": _encode(page[-1].pk) if has_more and page else None}
