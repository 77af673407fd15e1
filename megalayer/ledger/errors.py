from __future__ import annotations

from megalayer.core.errors import RuleRefused


class InsufficientBalance(RuleRefused):
    """The customer's balance cannot cover a debit; the balance never goes below zero (TOS-BAL-2)."""

    def __init__(self, detail: str = "The account balance is too low for this payment.") -> None:
        super().__init__(detail, rule="insufficient-balance", requirement="TOS-BAL-2")


class UnbalancedTransaction(ValueError):
    """Postings that do not sum to zero per currency: a programming error, never user input."""
