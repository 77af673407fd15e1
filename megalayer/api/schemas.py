"""Schemas shared by API resources."""

from __future__ import annotations

from ninja import Schema


class FieldProblem(Schema):
    field: str
    message: str


class Problem(Schema):
    """RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None
    requirement: str | None = None
