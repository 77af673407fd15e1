"""Must-show 4: a termination for violation refunds nothing; the audit events cite TOS-VIOLATION-1 and the case."""

from __future__ import annotations

import datetime as dt

import pytest

from megalayer.abuse.actions import case_act, report_receive
from megalayer.abuse.models import AbuseCase
from megalayer.abuse.tests.test_intake import _arf
from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.models import CreditNote, Refund
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.network.models import IpAssignment, NullRoute
from megalayer.orders.actions import order_place
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 3, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def case(alice, vps, django_capture_on_commit_callbacks) -> AbuseCase:
    with_billing(alice)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "25.00")
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    address = IpAssignment.objects.get(customer=alice).address
    with clock.travel(T0 + dt.timedelta(days=2)):
        report_receive(raw=_arf(address, arrival="Tue, 02 Mar 2027 09:00:00 +0000"), source="mail")
    return AbuseCase.objects.get()


def test_termination_for_violation_refunds_nothing_and_cites_the_case(
    alice, staff, case, django_capture_on_commit_callbacks
):
    balance = customer_balance(alice, "USD")
    with clock.travel(T0 + dt.timedelta(days=3)), django_capture_on_commit_callbacks(execute=True):
        case_act(case=case, staff=staff, action="terminate_violation", note="phishing kit, second offence")
    service = Service.objects.get(customer=alice)
    assert (service.status, service.reason) == ("terminated", "violation")
    assert customer_balance(alice, "USD") == balance  # nothing back: 20 days of the term are forfeited
    assert not Refund.objects.exists()
    assert not CreditNote.objects.exists()
    assert ledger_verify().problems == []
    event = AuditEvent.objects.get(action="abuse.terminate_violation")
    assert (event.requirement, event.target_id, event.data["case"]) == (
        "TOS-VIOLATION-1",
        case.public_id,
        case.public_id,
    )
    moved = AuditEvent.objects.get(action="service.terminating", target_id=service.public_id)
    assert moved.requirement == "TOS-VIOLATION-1"
    assert case.public_id in moved.data["note"]
    case.refresh_from_db()
    assert case.status == "closed"


def test_null_route_one_address_of_the_case_only(alice, staff, case, django_capture_on_commit_callbacks):
    address = case.events.get().address
    with pytest.raises(InvalidInput):
        case_act(case=case, staff=staff, action="null_route", address="192.0.2.1")
    with clock.travel(T0 + dt.timedelta(days=3)), django_capture_on_commit_callbacks(execute=True):
        case_act(case=case, staff=staff, action="null_route", address=address)
    route = NullRoute.objects.get()
    assert (route.address, route.case_reference, route.requirement) == (address, case.public_id, "TOS-ABUSE-2")
