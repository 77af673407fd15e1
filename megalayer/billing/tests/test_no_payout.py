"""TOS-BAL-1: no path moves balance out of the platform, for customers or staff.

Walks every URL pattern of the site (client area, back office, admin, allauth,
API) as a customer and as staff, with GET and with POSTs shaped like a
withdrawal, payout or transfer, then proves from the ledger that the only money
that left a customer balance went to pay that customer's own invoices.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from megalayer.billing.tests.conftest import fund, issued_invoice
from megalayer.conftest import bearer, sign_in_staff
from megalayer.core.money import Money
from megalayer.ledger.models import LedgerAccount, Posting
from megalayer.ledger.queries import customer_balance, ledger_verify

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SKIP = ("auth/logout/",)  # signing out ends the walk's session; it moves no money


def _patterns(resolver: URLResolver, prefix: str = "") -> list[str]:
    found: list[str] = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append(prefix + str(entry.pattern))
    return found


def _concrete(pattern: str, ids: dict[str, str]) -> str:
    path = pattern.lstrip("^").rstrip("$").replace("\\Z", "")
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids.get(m.group(1), "x"), path)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: ids.get(m.group(1), "x"), path)
    return "/" + path.replace("\\", "")


WITHDRAWALS: list[dict[str, Any]] = [
    {},
    {"amount": {"amount": "50.00", "currency": "USD"}, "destination": "bank", "iban": "DE89370400440532013000"},
    {"amount": {"amount": "50.00", "currency": "USD"}, "to": "bob@example.com", "gateway": "stripe"},
    {
        "invoice": "x",
        "amount": {"amount": "50.00", "currency": "USD"},
        "reason": "provider_outage",
        "note": "n",
        "destination": "original",
    },
]


def test_no_url_moves_balance_out(alice, bob, staff):
    fund(alice, "100.00")
    fund(bob, "100.00")
    own_invoice = issued_invoice(alice, "10.00")  # paid from the balance automatically: allowed
    patterns = [p for p in _patterns(get_resolver()) if not any(skip in p for skip in SKIP)]
    assert len(patterns) > 60, "the walk found too few URLs to mean anything"
    ids = {"invoice_id": own_invoice.public_id, "public_id": bob.public_id, "version": "1", "number": "1"}
    customer_session, staff_session = Client(raise_request_exception=False), Client(raise_request_exception=False)
    customer_session.force_login(alice.owner)
    sign_in_staff(staff_session, staff)
    api_headers = [bearer(alice.owner, scope="write"), bearer(staff, scope="write", staff=True)]
    server_errors: list[str] = []
    for pattern in patterns:
        path = _concrete(pattern, ids)
        for client, headers in [
            (customer_session, {}),
            (staff_session, {}),
            (Client(raise_request_exception=False), api_headers[0]),
            (Client(raise_request_exception=False), api_headers[1]),
        ]:
            responses = [client.get(path, **headers)]
            for body in WITHDRAWALS:
                responses.append(client.post(path, json.dumps(body), content_type="application/json", **headers))
                responses.append(
                    client.post(
                        path, {k: json.dumps(v) if isinstance(v, dict) else v for k, v in body.items()}, **headers
                    )
                )
            server_errors += [f"{r.status_code} {path}" for r in responses if r.status_code >= 500]
    assert server_errors == []
    outflows = Posting.objects.filter(account__kind=LedgerAccount.Kind.CUSTOMER_BALANCE, amount__lt=0)
    for posting in outflows:
        others = posting.transaction.postings.exclude(pk=posting.pk)
        assert {p.account.kind for p in others} == {LedgerAccount.Kind.RECEIVABLE}, posting.transaction
        assert posting.transaction.reference.startswith("inv_")
    assert customer_balance(alice, "USD") == Money.of("90.00", "USD")
    assert customer_balance(bob, "USD") == Money.of("100.00", "USD")
    assert ledger_verify().ok
