from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from megalayer.audit.actions import Actor
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.core.errors import RuleRefused
from megalayer.ledger.queries import customer_balance
from megalayer.orders.actions import order_approve, order_place, order_reject
from megalayer.orders.models import Order
from megalayer.services.models import Service
from megalayer.services.periods import add_months
from megalayer.services.tests.conftest import with_billing

CUSTOMER = Actor.system("test customer")


@pytest.mark.parametrize("start_day", range(1, 32))
def test_monthly_periods_keep_their_anchor_day_for_ten_years(start_day):
    zone = clock.provider_zone()
    year, month = 2027, 1
    start = dt.datetime(year, month, start_day, 9, 30, tzinfo=zone).astimezone(dt.UTC)
    ends = [add_months(start, months, start_day) for months in range(1, 121)]
    previous = start
    for index, end in enumerate(ends, start=1):
        local = end.astimezone(zone)
        expected_month = (month - 1 + index) % 12 + 1
        assert local.month == expected_month, (start_day, index)
        last_day = (local.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        assert local.day == min(start_day, last_day.day)
        assert (local.hour, local.minute) == (9, 30)
        assert end > previous  # no overlap, and each period starts where the last ended: no gap
        previous = end


def test_january_31_goes_to_february_28_and_back_to_march_31():
    zone = clock.provider_zone()
    start = dt.datetime(2027, 1, 31, 12, 0, tzinfo=zone)
    assert add_months(start, 1, 31).astimezone(zone).date() == dt.date(2027, 2, 28)
    assert add_months(add_months(start, 1, 31), 1, 31).astimezone(zone).date() == dt.date(2027, 3, 31)
    assert add_months(dt.datetime(2028, 1, 31, 12, tzinfo=zone), 1, 31).astimezone(zone).date() == dt.date(2028, 2, 29)


@pytest.mark.django_db
def test_an_order_needs_billing_data_first(alice, vps):
    with pytest.raises(RuleRefused) as refused:
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    assert (refused.value.type_slug, refused.value.requirement) == ("billing-profile-required", "TOS-BILLDATA-1")
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_an_unpaid_order_is_not_provisioned(alice, vps):
    with_billing(alice)
    order = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    assert (order.status, order.service) == ("awaiting_payment", None)
    assert Service.objects.count() == 0


@pytest.mark.django_db
def test_a_risky_order_waits_for_review_then_staff_approve(alice, vps, staff, django_capture_on_commit_callbacks):
    from megalayer.accounts.models import User

    with_billing(alice)
    User.objects.filter(pk=alice.owner.pk).update(email="alice@mailinator.com")
    alice.refresh_from_db()
    from megalayer.conftest import make_customer

    for index in range(2):  # two more accounts from the same sign-up address
        make_customer(f"sock{index}@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        fund(alice, "10.00")
        order = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    order.refresh_from_db()
    assert (order.status, order.fraud_score) == ("in_review", 70)
    assert order.fraud_reasons == [
        "+40 disposable e-mail domain mailinator.com",
        "+30 2 other accounts signed up from 192.0.2.10",
    ]
    assert Service.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        order_approve(order=order, staff=staff)
    order.refresh_from_db()
    assert order.service is not None
    assert order.service.status == "active"


@pytest.mark.django_db
def test_a_rejected_paid_order_returns_the_money_to_the_balance(alice, vps, staff):
    from megalayer.accounts.models import User

    with_billing(alice)
    User.objects.filter(pk=alice.owner.pk).update(email="alice@yopmail.com")
    alice.refresh_from_db()
    fund(alice, "10.00")
    with clock.travel(clock.now()):
        from megalayer.terms.actions import terms_publish
        from megalayer.terms.policy import default_policy_data

        policy = default_policy_data()
        policy["orders"]["fraud_review_threshold"] = 40
        terms_publish(
            body="Terms v2",
            summary="Lower fraud threshold.",
            update_date=dt.date(2027, 1, 1),
            effective_at=clock.now(),
            policy=policy,
            actor=CUSTOMER,
        )
        order = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    order.refresh_from_db()
    assert order.status == "in_review"
    assert customer_balance(alice, "USD").amount == Decimal("0")
    order_reject(order=order, staff=staff, note="Refused: disposable address")
    order.refresh_from_db()
    assert order.status == "rejected"
    assert customer_balance(alice, "USD").amount == Decimal("10.00")
    assert Service.objects.count() == 0
    with pytest.raises(RuleRefused):
        order_approve(order=order, staff=staff)


@pytest.mark.django_db
def test_automation_command_previews_and_runs(alice, vps, capsys, django_capture_on_commit_callbacks):
    with_billing(alice)
    start = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)
    with clock.travel(start), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "10.00")
        service_order = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    call_command("automation", "run", "--dry-run", "--at", "2027-02-04T10:00Z")
    out = capsys.readouterr().out
    assert "dry run: nothing changed" in out
    assert "renewal_invoice" in out
    assert Service.objects.get(order=service_order).effects.count() == 0
    call_command("automation", "run", "--at", "2027-02-04T10:00Z")
    assert "renewal_invoice         1" in capsys.readouterr().out
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("automation", "run", "--at", "next tuesday")


@pytest.mark.django_db
def test_simulation_runs_a_population_and_rolls_back(alice, vps, capsys):
    call_command("simulate", "--customers", "12", "--days", "70", "--seed", "3")
    out = capsys.readouterr().out
    assert "day   70 [" in out
    assert "(simulation rolled back; --keep keeps it)" in out
    assert "services now terminated" in out
    assert "renewal_invoice" in out
    assert Service.objects.count() == 0  # rolled back


@pytest.mark.django_db
def test_a_deliberate_price_migration_is_audited_and_notified(alice, vps, staff, django_capture_on_commit_callbacks):
    from megalayer.audit.models import AuditEvent
    from megalayer.notices.models import Notice
    from megalayer.services.actions import services_migrate_price

    with_billing(alice)
    fund(alice, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    moved = services_migrate_price(
        product=vps, cycle="monthly", new_amount="12.00", staff=staff, note="Power costs in Hong Kong rose 30%."
    )
    assert moved == 1
    service = Service.objects.get(customer=alice)
    assert service.recurring_amount == Decimal("12.00")
    event = AuditEvent.objects.get(action="service.price_migrate")
    assert (event.requirement, event.data["from"], event.data["to"]) == ("TOS-PRICE-1", "10.0000", "12.00")
    notice = Notice.objects.get(kind="price_changed")
    assert "12.00 USD" in notice.subject
    assert services_migrate_price(product=vps, cycle="monthly", new_amount="12.00", staff=staff, note="again") == 0
