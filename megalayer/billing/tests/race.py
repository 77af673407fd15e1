"""Scenarios run inside a real platform process by the concurrency tests (``megalayer shell -c``)."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial

from megalayer.accounts.actions import customer_signup_complete, token_create
from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor
from megalayer.billing.actions import LineData, invoice_create, invoice_issue, payment_start, payment_succeeded
from megalayer.billing.models import Invoice
from megalayer.core.money import Money
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.testing_parallel import run_in_parallel

SYSTEM = Actor.system("race")


def seed_pay_race(invoices: int = 50) -> None:
    """One customer with 100.00 on the balance and ``invoices`` unpaid invoices of 10.00."""
    user = User.objects.create_user("racer@example.com", "a long enough passphrase")
    customer = customer_signup_complete(user=user, signup_ip="127.0.0.1")
    Customer.objects.filter(pk=customer.pk).update(auto_apply_balance=False)
    customer.refresh_from_db()
    payment_succeeded(payment=payment_start(customer=customer, amount=Money.of("100.00", "USD"), gateway="manual"))
    ids = []
    for index in range(invoices):
        draft = invoice_create(
            customer=customer,
            lines=[LineData(kind="race", description=f"#{index}", unit_price=Money.of("10.00", "USD"))],
        )
        ids.append(invoice_issue(invoice=draft, actor=SYSTEM).public_id)
    token = token_create(user=user, name="race", scope="write").plaintext
    print(json.dumps({"token": token, "invoices": ids}))


def report() -> None:
    customer = Customer.objects.get(owner__email="racer@example.com")
    print(
        json.dumps(
            {
                "balance": customer_balance(customer, "USD").as_text(),
                "paid": Invoice.objects.filter(customer=customer, status="paid").count(),
                "verify": ledger_verify().problems,
            }
        )
    )


def issue_race(count: int = 20) -> None:
    """``count`` threads, each with its own database connection, issue one invoice at the same moment."""
    user = User.objects.create_user("issuer@example.com", "a long enough passphrase")
    customer = customer_signup_complete(user=user, signup_ip="127.0.0.1")
    drafts = [
        invoice_create(
            customer=customer, lines=[LineData(kind="race", description="x", unit_price=Money.of("1", "USD"))]
        )
        for _ in range(count)
    ]
    results = run_in_parallel([partial(invoice_issue, invoice=draft, actor=SYSTEM) for draft in drafts])
    errors = [repr(result) for result in results if isinstance(result, BaseException)]
    numbers = sorted(n for n in Invoice.objects.filter(customer=customer).values_list("number", flat=True) if n)
    print(json.dumps({"numbers": numbers, "errors": errors, "total": str(Decimal(count))}))
