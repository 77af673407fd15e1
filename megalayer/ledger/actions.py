"""The only writer of postings (TOS-BAL-2).

Every money movement is one ``ledger_post`` call: a set of legs that sum to zero
per currency, recorded once per (source, idempotency key). Customer balance
accounts touched by a debit are locked first (row lock on PostgreSQL, the
IMMEDIATE write lock on SQLite), so two concurrent payments cannot both spend
the same money.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum

from megalayer.core import clock
from megalayer.core.money import Money
from megalayer.ledger.errors import InsufficientBalance, UnbalancedTransaction
from megalayer.ledger.models import LedgerAccount, LedgerTransaction, Posting


@dataclass(frozen=True, slots=True)
class Leg:
    account: LedgerAccount
    amount: Money


@dataclass(frozen=True, slots=True)
class PostResult:
    transaction: LedgerTransaction
    created: bool  # False: the same (source, key) was recorded before; nothing new was posted


def ledger_account(*, kind: str, currency: str, customer: Any = None, gateway: str = "") -> LedgerAccount:
    """The account for (kind, customer, gateway, currency), created on first use (race-safe)."""
    lookup = {"kind": kind, "customer": customer, "gateway": gateway, "currency": currency}
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(**lookup)
    except IntegrityError:
        return LedgerAccount.objects.get(**lookup)


def customer_balance_account(customer: Any, currency: str) -> LedgerAccount:
    return ledger_account(kind=LedgerAccount.Kind.CUSTOMER_BALANCE, currency=currency, customer=customer)


POSTING_PLACES = Decimal("0.0001")


def account_balance(account: LedgerAccount) -> Decimal:
    """Sum of the account's postings, at the postings' precision (SQLite sums decimals as floats)."""
    total = Posting.objects.filter(account=account).aggregate(total=Sum("amount"))["total"]
    return Decimal(0) if total is None else Decimal(total).quantize(POSTING_PLACES)


def _check_balanced(legs: list[Leg]) -> None:
    if len(legs) < 2:
        raise UnbalancedTransaction("a transaction needs at least two postings")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for leg in legs:
        if leg.amount.currency != leg.account.currency:
            raise UnbalancedTransaction(f"{leg.amount.currency} posted to a {leg.account.currency} account")
        if leg.amount.is_zero():
            raise UnbalancedTransaction("zero postings are not recorded")
        totals[leg.amount.currency] += leg.amount.amount
    unbalanced = {currency: total for currency, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedTransaction(f"postings do not sum to zero: {unbalanced}")


def _lock_and_check_balances(legs: list[Leg]) -> None:
    """Lock the customer balances this transaction debits (in id order) and refuse an overdraft."""
    debits: dict[int, Decimal] = defaultdict(Decimal)
    for leg in legs:
        if leg.account.kind == LedgerAccount.Kind.CUSTOMER_BALANCE:
            debits[leg.account.pk] += leg.amount.amount
    needing_check = sorted(pk for pk, change in debits.items() if change < 0)
    if not needing_check:
        return
    for account in LedgerAccount.objects.select_for_update().filter(pk__in=needing_check).order_by("pk"):
        if account_balance(account) + debits[account.pk] < 0:
            raise InsufficientBalance()


def ledger_post(
    *,
    source: str,
    idempotency_key: str,
    description: str,
    requirement: str,
    legs: list[Leg],
    customer: Any = None,
    reference: str = "",
    reverses: LedgerTransaction | None = None,
) -> PostResult:
    """Record ``legs`` once. A repeat of (source, key) returns the first transaction, unchanged."""
    _check_balanced(legs)
    existing = LedgerTransaction.objects.filter(source=source, idempotency_key=idempotency_key).first()
    if existing is not None:
        return PostResult(existing, created=False)
    with transaction.atomic():
        _lock_and_check_balances(legs)
        try:
            with transaction.atomic():
                record = LedgerTransaction.objects.create(
                    source=source,
                    idempotency_key=idempotency_key,
                    description=description[:255],
                    requirement=requirement,
                    customer=customer,
                    reference=reference,
                    reverses=reverses,
                    created_at=clock.now(),
                )
        except IntegrityError:
            # The same key committed while we waited for the lock: that one stands.
            return PostResult(LedgerTransaction.objects.get(source=source, idempotency_key=idempotency_key), False)
        Posting.objects.bulk_create(
            [
                Posting(transaction=record, account=leg.account, amount=leg.amount.amount, currency=leg.amount.currency)
                for leg in legs
            ]
        )
    return PostResult(record, created=True)


@dataclass(frozen=True, slots=True)
class Entry:
    """One transaction of a ``ledger_post_many`` batch: what ``ledger_post`` takes, as a value."""

    source: str
    idempotency_key: str
    description: str
    requirement: str
    legs: list[Leg]
    customer: Any = None
    reference: str = ""


def ledger_post_many(entries: list[Entry]) -> list[PostResult]:
    """Record many transactions with a constant number of queries and the checks of ``ledger_post``.

    Each entry must balance; an entry whose (source, key) is recorded already returns that record, unchanged;
    the customer balances the batch debits are locked (in id order) and refused as a whole if one would go
    negative. If another writer records one of the keys meanwhile, the batch falls back to ``ledger_post`` per
    entry, which resolves each race on its own. The automation's renewal batches post through this.
    """
    for entry in entries:
        _check_balanced(entry.legs)
    keys = {(entry.source, entry.idempotency_key) for entry in entries}
    if len(keys) != len(entries):
        raise UnbalancedTransaction("a batch names the same (source, key) twice")
    sources = {source for source, _ in keys}
    existing = {
        (record.source, record.idempotency_key): record
        for record in LedgerTransaction.objects.filter(source__in=sources, idempotency_key__in=[key for _, key in keys])
        if (record.source, record.idempotency_key) in keys
    }
    fresh = [entry for entry in entries if (entry.source, entry.idempotency_key) not in existing]
    created: dict[tuple[str, str], LedgerTransaction] = {}
    with transaction.atomic():
        _lock_and_check_balances([leg for entry in fresh for leg in entry.legs])
        now = clock.now()
        records = [
            LedgerTransaction(
                source=entry.source,
                idempotency_key=entry.idempotency_key,
                description=entry.description[:255],
                requirement=entry.requirement,
                customer=entry.customer,
                reference=entry.reference,
                created_at=now,
            )
            for entry in fresh
        ]
        try:
            with transaction.atomic():
                LedgerTransaction.objects.bulk_create(records)
        except IntegrityError:
            return [_post_one(entry) for entry in entries]  # a key was recorded meanwhile: one by one
        Posting.objects.bulk_create(
            [
                Posting(transaction=record, account=leg.account, amount=leg.amount.amount, currency=leg.amount.currency)
                for record, entry in zip(records, fresh, strict=True)
                for leg in entry.legs
            ]
        )
        created = {(record.source, record.idempotency_key): record for record in records}
    return [
        PostResult(created[key], created=True) if key in created else PostResult(existing[key], created=False)
        for key in ((entry.source, entry.idempotency_key) for entry in entries)
    ]


def _post_one(entry: Entry) -> PostResult:
    return ledger_post(
        source=entry.source,
        idempotency_key=entry.idempotency_key,
        description=entry.description,
        requirement=entry.requirement,
        legs=entry.legs,
        customer=entry.customer,
        reference=entry.reference,
    )


def ledger_reverse(*, original: LedgerTransaction, reason: str, requirement: str) -> PostResult:
    """Undo a transaction with its mirror image; the original stays as it was."""
    legs = [
        Leg(account=posting.account, amount=Money(-posting.amount, posting.currency))
        for posting in original.postings.select_related("account")
    ]
    return ledger_post(
        source="reversal",
        idempotency_key=original.public_id,
        description=f"Reversal of {original.public_id}: {reason}",
        requirement=requirement,
        legs=legs,
        customer=original.customer,
        reference=original.reference,
        reverses=original,
    )
