"""The double-entry ledger (TOS-BAL-1, TOS-BAL-2): the only place money is recorded.

Sign convention: a posting's ``amount`` is signed, credit positive and debit
negative, and every transaction's postings sum to zero per currency. A customer
balance is a liability (money we hold for the customer), so its sum of postings
is the money they can spend and is never below zero. A top-up of 10 credits the
customer balance (+10) and debits the gateway clearing account (-10); issuing an
invoice debits receivable and credits revenue and tax payable; paying it from the
balance debits the balance and credits receivable.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from megalayer.core.ids import PublicIdFactory
from megalayer.core.money import AMOUNT_FIELD

AMOUNT = AMOUNT_FIELD


class LedgerAccount(models.Model):
    """One account of the book: a customer's balance, or a provider account per currency."""

    class Kind(models.TextChoices):
        CUSTOMER_BALANCE = "customer_balance", "Customer balance"
        GATEWAY_CLEARING = "gateway_clearing", "Gateway clearing"
        RECEIVABLE = "receivable", "Invoices receivable"
        REVENUE = "revenue", "Revenue"
        TAX_PAYABLE = "tax_payable", "Tax payable"
        FEES = "fees", "Fees"
        COMMISSIONS = "commissions", "Affiliate commissions"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    gateway = models.CharField(max_length=32, blank=True, help_text="For clearing accounts: which gateway.")
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "customer", "gateway", "currency"], name="ledger_account_unique"),
            models.UniqueConstraint(
                fields=["kind", "gateway", "currency"],
                condition=models.Q(customer__isnull=True),
                name="ledger_provider_account_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="customer_balance", customer__isnull=False)
                | (~models.Q(kind="customer_balance") & models.Q(customer__isnull=True)),
                name="ledger_customer_accounts_have_customer",
            ),
        ]

    def __str__(self) -> str:
        owner = f" {self.customer_id}" if self.customer_id else ""
        gateway = f" {self.gateway}" if self.gateway else ""
        return f"{self.kind}{owner}{gateway} {self.currency}"


class LedgerTransaction(models.Model):
    """A balanced set of postings, keyed by (source, idempotency key) so it is recorded once."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("txn"), editable=False)
    source = models.CharField(max_length=32, help_text="What asked for it: topup, invoice_payment, refund, ...")
    idempotency_key = models.CharField(max_length=200)
    description = models.CharField(max_length=255)
    requirement = models.CharField(max_length=32)
    customer = models.ForeignKey(
        "accounts.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions"
    )
    reference = models.CharField(max_length=64, blank=True, help_text="Public id of what it concerns (inv_…).")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "idempotency_key"], name="ledger_transaction_once"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.source}:{self.idempotency_key}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("ledger transactions are immutable; post a reversal")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("ledger transactions are immutable; post a reversal")


class Posting(models.Model):
    """One signed amount on one account. Never updated or deleted (also refused by trigger)."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)

    class Meta:
        indexes = [models.Index(fields=["account", "transaction"], name="posting_account_idx")]
        constraints = [models.CheckConstraint(condition=~models.Q(amount=0), name="posting_not_zero")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.account_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("postings are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("postings are immutable")
