from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from megalayer.core.money import Money
from megalayer.ledger.actions import Leg, customer_balance_account, ledger_account, ledger_post, ledger_reverse
from megalayer.ledger.errors import InsufficientBalance, UnbalancedTransaction
from megalayer.ledger.models import LedgerAccount, LedgerTransaction, Posting
from megalayer.ledger.queries import customer_balance, ledger_verify

pytestmark = pytest.mark.django_db


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def topup(customer, amount: str, key: str):
    clearing = ledger_account(kind=LedgerAccount.Kind.GATEWAY_CLEARING, currency="USD", gateway="test")
    return ledger_post(
        source="topup",
        idempotency_key=key,
        description="top-up",
        requirement="TOS-BAL-1",
        legs=[Leg(clearing, -usd(amount)), Leg(customer_balance_account(customer, "USD"), usd(amount))],
        customer=customer,
    )


def spend(customer, amount: str, key: str):
    revenue = ledger_account(kind=LedgerAccount.Kind.REVENUE, currency="USD")
    return ledger_post(
        source="charge",
        idempotency_key=key,
        description="charge",
        requirement="TOS-BAL-1",
        legs=[Leg(customer_balance_account(customer, "USD"), -usd(amount)), Leg(revenue, usd(amount))],
        customer=customer,
    )


def test_balance_is_the_sum_of_postings_and_retries_post_once(alice):
    first = topup(alice, "100.00", "t1")
    again = topup(alice, "100.00", "t1")
    assert (first.created, again.created) == (True, False)
    assert again.transaction.pk == first.transaction.pk
    spend(alice, "30.00", "c1")
    assert customer_balance(alice, "USD") == usd("70.00")
    assert Posting.objects.count() == 4


def test_overdraft_is_refused_and_nothing_changes(alice):
    topup(alice, "10.00", "t1")
    before = (LedgerTransaction.objects.count(), Posting.objects.count())
    with pytest.raises(InsufficientBalance) as refused:
        spend(alice, "10.01", "c1")
    assert (refused.value.status, refused.value.requirement) == (409, "TOS-BAL-2")
    assert (LedgerTransaction.objects.count(), Posting.objects.count()) == before
    assert customer_balance(alice, "USD") == usd("10.00")
    spend(alice, "10.00", "c2")
    assert customer_balance(alice, "USD") == usd("0")


def test_unbalanced_or_mismatched_postings_are_refused(alice):
    account = customer_balance_account(alice, "USD")
    revenue = ledger_account(kind=LedgerAccount.Kind.REVENUE, currency="USD")
    with pytest.raises(UnbalancedTransaction):
        ledger_post(
            source="x",
            idempotency_key="1",
            description="",
            requirement="TOS-BAL-2",
            legs=[Leg(account, usd("1")), Leg(revenue, usd("-0.99"))],
        )
    with pytest.raises(UnbalancedTransaction):
        ledger_post(
            source="x", idempotency_key="2", description="", requirement="TOS-BAL-2", legs=[Leg(account, usd("1"))]
        )
    with pytest.raises(UnbalancedTransaction):
        ledger_post(
            source="x",
            idempotency_key="3",
            description="",
            requirement="TOS-BAL-2",
            legs=[Leg(account, Money.of("1", "EUR")), Leg(revenue, Money.of("-1", "EUR"))],
        )
    assert LedgerTransaction.objects.count() == 0


def test_reversal_mirrors_the_original_once(alice):
    topup(alice, "50.00", "t1")
    charge = spend(alice, "20.00", "c1").transaction
    first = ledger_reverse(original=charge, reason="billing error", requirement="TOS-REFUND-1")
    second = ledger_reverse(original=charge, reason="billing error", requirement="TOS-REFUND-1")
    assert second.transaction.pk == first.transaction.pk
    assert customer_balance(alice, "USD") == usd("50.00")
    assert first.transaction.reverses == charge


def test_postings_cannot_be_changed(alice):
    topup(alice, "5.00", "t1")
    posting = Posting.objects.first()
    assert posting is not None
    with pytest.raises(PermissionError):
        posting.save()
    with pytest.raises(PermissionError):
        posting.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).update(amount=Decimal("500"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_posting")
    assert customer_balance(alice, "USD") == usd("5.00")


def test_verify_passes_on_a_sound_book_and_names_a_broken_transaction(alice, capsys):
    topup(alice, "5.00", "t1")
    spend(alice, "5.00", "c1")
    report = ledger_verify()
    assert (report.ok, report.transactions, report.postings) == (True, 2, 4)
    call_command("ledger", "verify")
    assert "2 transactions, 4 postings" in capsys.readouterr().out
    broken = LedgerTransaction.objects.get(idempotency_key="c1")
    account = customer_balance_account(alice, "USD")
    with connection.cursor() as cursor:  # a rogue insert behind the application's back
        cursor.execute(
            "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency) VALUES (%s, %s, %s, %s)",
            [broken.pk, account.pk, "-1.00", "USD"],
        )
    report = ledger_verify()
    assert f"transaction {broken.public_id} does not sum to zero in USD: -1.0000" in report.problems
    assert any("below zero" in problem for problem in report.problems)
    with pytest.raises(CommandError, match=broken.public_id):
        call_command("ledger", "verify")
