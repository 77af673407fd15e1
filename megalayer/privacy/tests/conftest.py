"""A customer with something of everything: a terminated VPS (so an address history, an invoice and
ledger postings), a ticket with an attachment, a contact, an API token and delivered notices."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from megalayer.accounts.actions import contact_add, token_create
from megalayer.accounts.models import Customer
from megalayer.audit.actions import Actor
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.orders.actions import order_place
from megalayer.services.actions import service_terminate
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing
from megalayer.support.actions import Upload, ticket_open
from megalayer.support.models import Ticket
from megalayer.support.queries import departments

T0 = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)


def rich_customer(customer: Customer, vps: Any, capture: Any, *, terminate: bool = True) -> Service:
    with_billing(customer)
    with clock.travel(T0), capture(execute=True):
        fund(customer, "10.00")  # the month exactly: no balance is left to give up
        order_place(customer=customer, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
        contact_add(customer=customer, name="Carol Tech", email="carol@example.net", role="technical")
        token_create(user=customer.owner, name="ci", scope="read")
        ticket_open(
            customer=customer,
            department=departments().get(code="technical"),
            subject="My server at home-lab.example is slow",
            body="Hello, this is Alice Liddell, +852 5555 0101.",
            user=customer.owner,
            uploads=[Upload(name="trace.txt", content=b"mtr to 198.18.0.2 from my flat")],
        )
    service = Service.objects.get(customer=customer)
    Service.objects.filter(pk=service.pk).update(hostname="home-lab.example")
    if terminate:
        with clock.travel(T0 + dt.timedelta(days=2)), capture(execute=True):
            service_terminate(service=service, reason="staff", actor=Actor.system("t"), requirement="TOS-EXPIRE-1")
        service.refresh_from_db()
        assert service.status == "terminated"
    assert Ticket.objects.filter(customer=customer).count() == 1
    return service


@pytest.fixture
def rich_alice(alice: Customer, vps: Any, django_capture_on_commit_callbacks: Any) -> Customer:
    rich_customer(alice, vps, django_capture_on_commit_callbacks)
    alice.refresh_from_db()
    return alice
