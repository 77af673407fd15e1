"""``ledger_post_many``: a batch has the checks of ``ledger_post`` (issue 15: bulk postings no longer bypass them)."""

from __future__ import annotations

import pytest

from megalayer.core.money import Money
from megalayer.ledger.actions import Entry, Leg, customer_balance_account, ledger_account, ledger_post_many
from megalayer.ledger.errors import InsufficientBalance, UnbalancedTransaction
from megalayer.ledger.models import LedgerAccount, LedgerTransaction, Posting
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.ledger.tests.test_ledger import topup, usd

pytestmark = pytest.mark.django_db


def _charge(customer, amount: str, key: str) -> Entry:
    revenue = ledger_account(kind=LedgerAccount.Kind.REVENUE, currency="USD")
    balance = customer_balance_account(customer, "USD")
    legs = [Leg(balance, -usd(amount)), Leg(revenue, usd(amount))]
    return Entry("charge", key, "charge", "TOS-BAL-1", legs, customer=customer)


def _rows() -> tuple[int, int]:
    return LedgerTransaction.objects.count(), Posting.objects.count()


def test_a_batch_posts_each_entry_once_and_a_repeat_returns_the_first_records(alice, bob):
    topup(alice, "50.00", "ta")
    topup(bob, "50.00", "tb")
    first = ledger_post_many([_charge(alice, "20.00", "c1"), _charge(bob, "5.00", "c2")])
    assert [result.created for result in first] == [True, True]
    assert (customer_balance(alice, "USD"), customer_balance(bob, "USD")) == (usd("30.00"), usd("45.00"))
    again = ledger_post_many([_charge(bob, "5.00", "c2"), _charge(alice, "1.00", "c3")])
    assert [result.created for result in again] == [False, True]
    assert again[0].transaction.pk == first[1].transaction.pk
    assert customer_balance(alice, "USD") == usd("29.00")
    assert _rows() == (5, 10)
    assert ledger_verify().ok


def test_an_unbalanced_entry_refuses_the_whole_batch(alice):
    topup(alice, "50.00", "ta")
    before = _rows()
    revenue = ledger_account(kind=LedgerAccount.Kind.REVENUE, currency="USD")
    lopsided = Entry("charge", "bad", "x", "TOS-BAL-1", [Leg(revenue, usd("1.00")), Leg(revenue, usd("1.00"))])
    with pytest.raises(UnbalancedTransaction, match="do not sum to zero"):
        ledger_post_many([_charge(alice, "1.00", "ok"), lopsided])
    assert _rows() == before


def test_a_batch_that_would_overdraw_a_balance_is_refused_whole(alice):
    topup(alice, "10.00", "ta")
    before = _rows()
    with pytest.raises(InsufficientBalance):
        ledger_post_many([_charge(alice, "6.00", "c1"), _charge(alice, "4.01", "c2")])  # 10.01 in all
    assert _rows() == before
    assert customer_balance(alice, "USD") == usd("10.00")


def test_the_same_key_twice_in_one_batch_is_refused(alice):
    topup(alice, "10.00", "ta")
    before = _rows()
    with pytest.raises(UnbalancedTransaction, match="same"):
        ledger_post_many([_charge(alice, "1.00", "c1"), _charge(alice, "1.00", "c1")])
    assert _rows() == before


def test_an_empty_batch_writes_nothing():
    assert ledger_post_many([]) == []
    assert _rows() == (0, 0)


def test_money_in_another_currency_than_its_account_is_refused(alice):
    revenue = ledger_account(kind=LedgerAccount.Kind.REVENUE, currency="USD")
    balance = customer_balance_account(alice, "USD")
    wrong = Entry("charge", "eur", "x", "TOS-BAL-1", [Leg(balance, -Money.of("1", "EUR")), Leg(revenue, usd("1"))])
    with pytest.raises(UnbalancedTransaction, match="EUR posted to a USD account"):
        ledger_post_many([wrong])
    assert _rows() == (0, 0)
