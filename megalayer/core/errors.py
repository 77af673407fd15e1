"""Typed domain errors.

Actions raise these; the API turns each into an RFC 9457 problem document
(``megalayer.api.problems``) and the web views into a form or page message. A
refusal by a rule of the Terms names the rule and the requirement ID, so the
customer and the audit trail can see which clause applied.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class. ``status`` is the HTTP status the API answers with."""

    status = 400
    type_slug = "domain-error"
    title = "The request could not be completed"

    def __init__(self, detail: str, *, field: str | None = None, requirement: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.requirement = requirement


class NotFound(DomainError):
    """The object does not exist, or belongs to someone else (never say which)."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class InvalidInput(DomainError):
    status = 422
    type_slug = "invalid-input"
    title = "Invalid input"


class RuleRefused(DomainError):
    """A rule of the Terms (quota, balance, status) refuses the action."""

    status = 409
    title = "Refused by a rule of the Terms"

    def __init__(self, detail: str, *, rule: str, requirement: str, field: str | None = None) -> None:
        super().__init__(detail, field=field, requirement=requirement)
        self.type_slug = rule


class DeletionHeld(RuleRefused):
    """A deletion that a legal hold forbids (TOS-HOLD-1). Raised by the abuse desk's receivers of the
    deletion guards (``services.hooks``, ``privacy.hooks``), caught by the apps below it by this name."""

    def __init__(self, *, hold_id: str, reason: str) -> None:
        super().__init__(
            f"Legal hold {hold_id} preserves this ({reason}); nothing under it is deleted.",
            rule="legal-hold",
            requirement="TOS-HOLD-1",
        )
        self.hold_id = hold_id
        self.reason = reason


class IllegalTransition(RuleRefused):
    """A status change that the transition table does not allow."""

    def __init__(self, detail: str, *, requirement: str = "TOS-TERM-1") -> None:
        super().__init__(detail, rule="illegal-transition", requirement=requirement)


class Forbidden(DomainError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class RateLimited(DomainError):
    status = 429
    type_slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
