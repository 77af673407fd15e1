"""Must-show 4: a termination for violation refunds nothing; the audit events cite TOS-VIOLATION-1 and the case."""

from __future__ import annotations

import datetime as dt
from typing import Any

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


def _fees_in_terms(staff: Any, terms_v1: Any, fees: dict[str, Any]) -> None:
    from megalayer.terms.actions import terms_publish
    from megalayer.terms.policy import default_policy_data

    data = default_policy_data()
    data["abuse"]["infraction_fee"] = fees
    with clock.travel(T0 - dt.timedelta(days=40)):
        terms_publish(
            body=terms_v1.body, summary="fees", update_date=(T0 - dt.timedelta(days=40)).date(),
            effective_at=T0 - dt.timedelta(days=31), policy=data, actor=Actor.for_user(staff), published_by=staff,
        )  # fmt: skip


def test_the_infraction_fee_follows_category_and_offence_level(
    alice, staff, terms_v1, case, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from megalayer.core.errors import RuleRefused

    with pytest.raises(RuleRefused):  # the default Terms set none
        case_act(case=case, staff=staff, action="charge_fee")
    _fees_in_terms(
        staff, terms_v1, {"spam": [{"amount": "15.00", "currency": "USD"}, {"amount": "50.00", "currency": "USD"}]}
    )
    from megalayer.billing.models import Invoice

    with clock.travel(T0 + dt.timedelta(days=3)), django_capture_on_commit_callbacks(execute=True):
        case_act(case=case, staff=staff, action="charge_fee")
    invoice = Invoice.objects.get(lines__kind="infraction_fee")
    assert (invoice.total, invoice.status) == (Decimal("15.00"), "paid")  # first offence, from the balance
    with clock.travel(T0 + dt.timedelta(days=3)):
        case_act(case=case, staff=staff, action="charge_fee")  # once per case
    assert Invoice.objects.filter(lines__kind="infraction_fee").count() == 1
    event = AuditEvent.objects.get(action="abuse.infraction_fee")
    assert (event.requirement, event.data["offence"], event.data["fee"]) == ("TOS-ABUSE-2", 1, "15.00 USD")
    # A second spam case later: the second offence's fee; the balance is short, so the invoice waits.
    address = case.events.get().address
    with clock.travel(T0 + dt.timedelta(days=4)), django_capture_on_commit_callbacks(execute=True):
        case_act(case=case, staff=staff, action="close")
        report_receive(raw=_arf(address, arrival="Thu, 04 Mar 2027 09:00:00 +0000"), source="mail")
        second = AbuseCase.objects.exclude(pk=case.pk).get()
        case_act(case=second, staff=staff, action="charge_fee")
    later = Invoice.objects.get(lines__reference=second.public_id)
    assert (later.total, later.status) == (Decimal("50.00"), "issued")


def test_suspending_the_whole_account(alice, staff, case, django_capture_on_commit_callbacks):
    with clock.travel(T0 + dt.timedelta(days=3)), django_capture_on_commit_callbacks(execute=True):
        case_act(case=case, staff=staff, action="suspend_account", note="repeat offender")
    alice.refresh_from_db()
    service = Service.objects.get(customer=alice)
    assert (alice.status, service.status, service.reason) == ("suspended", "suspended", "abuse")
    assert AuditEvent.objects.get(action="account.suspended").data["case"] == case.public_id
