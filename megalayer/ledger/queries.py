"""Reads of the ledger, and the whole-book verification (``megalayer ledger verify``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum

from megalayer.core.money import Money
from megalayer.ledger.actions import POSTING_PLACES, account_balance
from megalayer.ledger.models import LedgerAccount, LedgerTransaction, Posting


def customer_balance(customer: Any, currency: str) -> Money:
    account = LedgerAccount.objects.filter(
        kind=LedgerAccount.Kind.CUSTOMER_BALANCE, customer=customer, currency=currency
    ).first()
    return Money(account_balance(account) if account else Decimal(0), currency)


def customer_balances(customer: Any) -> list[Money]:
    rows = (
        Posting.objects.filter(account__kind=LedgerAccount.Kind.CUSTOMER_BALANCE, account__customer=customer)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return [Money(Decimal(row["total"]).quantize(POSTING_PLACES), row["currency"]) for row in rows]


def customer_transactions(customer: Any) -> QuerySet[Posting]:
    """The postings on the customer's balance accounts, newest first, with their transaction."""
    return (
        Posting.objects.filter(account__kind=LedgerAccount.Kind.CUSTOMER_BALANCE, account__customer=customer)
        .select_related("transaction")
        .order_by("-transaction__created_at", "-transaction_id")
    )


@dataclass
class VerifyReport:
    transactions: int = 0
    postings: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_verify(batch_size: int = 5000) -> VerifyReport:
    """Check every invariant of the book; each problem names the transaction or account."""
    report = VerifyReport()
    thin = LedgerTransaction.objects.annotate(n=Count("postings")).filter(n__lt=2)
    for record in thin.values_list("public_id", flat=True)[:50]:
        report.problems.append(f"transaction {record} has fewer than two postings")
    running: dict[int, Decimal] = defaultdict(Decimal)
    customer_accounts = set(
        LedgerAccount.objects.filter(kind=LedgerAccount.Kind.CUSTOMER_BALANCE).values_list("pk", flat=True)
    )
    account_currency = dict(LedgerAccount.objects.values_list("pk", "currency"))
    last_transaction = 0
    while True:
        chunk = list(
            Posting.objects.filter(transaction_id__gt=last_transaction)
            .order_by("transaction_id", "id")
            .values_list("transaction_id", "transaction__public_id", "account_id", "amount", "currency")[:batch_size]
        )
        if not chunk:
            break
        # Never split a transaction across chunks: drop the trailing partial one unless it is all we have.
        if len(chunk) == batch_size and chunk[0][0] != chunk[-1][0]:
            tail = chunk[-1][0]
            chunk = [row for row in chunk if row[0] != tail]
        _verify_chunk(chunk, running, customer_accounts, account_currency, report)
        last_transaction = chunk[-1][0]
    for account_id, balance in running.items():
        if account_id in customer_accounts and balance < 0:
            report.problems.append(f"customer balance account {account_id} ends negative: {balance}")
    return report


def _verify_chunk(
    chunk: list[tuple[int, str, int, Decimal, str]],
    running: dict[int, Decimal],
    customer_accounts: set[int],
    account_currency: dict[int, str],
    report: VerifyReport,
) -> None:
    sums: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    names: dict[int, str] = {}
    for transaction_id, public_id, account_id, amount, currency in chunk:
        names[transaction_id] = public_id
        sums[(transaction_id, currency)] += amount
        if account_currency.get(account_id) != currency:
            report.problems.append(f"transaction {public_id} posts {currency} to account {account_id}")
        running[account_id] += amount
        if account_id in customer_accounts and running[account_id] < 0:
            report.problems.append(f"transaction {public_id} takes customer balance {account_id} below zero")
        report.postings += 1
    for (transaction_id, currency), total in sums.items():
        if total != 0:
            report.problems.append(f"transaction {names[transaction_id]} does not sum to zero in {currency}: {total}")
    report.transactions += len(names)
