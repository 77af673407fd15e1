"""The monthly traffic allowance (issue 18; TOS-NET-1): usage and its forecast, the notices at the Terms'
percentages, and what the Terms say follows (a bandwidth limit, an overage charge on an invoice, a
suspension), each done once by the automation run, shown first by its dry run, and undone when a new month
begins. Counter samples are written as a sampler would, with exact byte counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from megalayer.audit.actions import Actor
from megalayer.billing.models import Invoice
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.ledger.queries import customer_balance
from megalayer.notices.models import Notice
from megalayer.orders.actions import order_place
from megalayer.provisioning.actions.traffic import consequence, traffic_record
from megalayer.provisioning.models import Operation, SandboxMachine, Server, TrafficEffect, TrafficMonth
from megalayer.provisioning.queries import traffic_usage
from megalayer.services.actions.automation import automation_run
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing
from megalayer.terms.actions import terms_publish
from megalayer.terms.policy import TrafficPolicy, default_policy_data

pytestmark = pytest.mark.django_db
HK = ZoneInfo("Asia/Hong_Kong")
T0 = dt.datetime(2027, 6, 2, 11, 0, tzinfo=HK)
GB = 10**9


def _terms(overage: str, **more: Any) -> None:
    policy = default_policy_data()
    policy["traffic"] = {**policy["traffic"], "overage": overage, **more}
    with clock.travel(dt.datetime(2027, 5, 1, tzinfo=dt.UTC)):
        terms_publish(
            body="v2",
            summary=f"traffic: {overage}",
            update_date=dt.date(2027, 5, 1),
            effective_at=clock.now(),
            policy=policy,
            actor=Actor.system("test"),
        )


@pytest.fixture
def server(alice, vps, django_capture_on_commit_callbacks) -> Server:
    vps.bandwidth_tb = Decimal("0.1")  # a 100 GB allowance
    vps.save()
    with_billing(alice)
    fund(alice, "10.00")
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("test"))
    return Server.objects.get(service__customer=alice)


def _sample(server: Server, at: dt.datetime, rx_gb: str, tx_gb: str) -> None:
    """What the hourly sampler does with a driver's counters (``traffic_sample``), with chosen values."""
    assert traffic_record(server=server, at=at, rx_bytes=int(Decimal(rx_gb) * GB), tx_bytes=int(Decimal(tx_gb) * GB))


def _run(at: dt.datetime, capture: Any, *, dry_run: bool = False) -> list[tuple[str, str]]:
    with clock.travel(at), capture(execute=True):
        result = automation_run(dry_run=dry_run)
    assert result.failures == []
    return [(i.kind, i.detail) for i in result.items if i.kind.startswith("traffic_")]


def test_usage_and_the_forecast_for_the_months_end(terms_v1, server):
    _sample(server, T0 + dt.timedelta(hours=1), "0", "0")
    _sample(server, dt.datetime(2027, 6, 11, 0, 0, tzinfo=HK), "10", "20")
    with clock.travel(dt.datetime(2027, 6, 11, 0, 0, tzinfo=HK)):
        both = traffic_usage(server, counted="in_and_out")
        out = traffic_usage(server, counted="out")
    assert (both.month, both.used_bytes, both.allowance_bytes, both.percent) == ("2027-06", 30 * GB, 100 * GB, 30)
    assert out.used_bytes == 20 * GB
    # 30 GB in the first 10 days of a 30-day month: 90 GB at this rate by its end.
    assert (both.forecast_bytes, both.forecast_percent, both.exceeded) == (90 * GB, 90, False)


def test_throttle_notices_once_each_then_the_limit_is_lifted_next_month(
    terms_v1, server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _terms("throttle", throttle_mbps=10)
    _sample(server, T0 + dt.timedelta(hours=1), "0", "0")
    _sample(server, dt.datetime(2027, 6, 10, tzinfo=HK), "40", "45")
    assert _run(dt.datetime(2027, 6, 10, 1, tzinfo=HK), capture) == [("traffic_notice", "80%")]
    warning = Notice.objects.get(kind="traffic_warning")
    assert warning.subject == f"80% of the monthly traffic used: {server.service.public_id}"
    assert "85.0 GB of its 100 GB" in warning.body_text
    assert "limited to 10 Mbit/s until the month ends" in warning.body_text
    assert warning.requirement == "TOS-NET-1"

    _sample(server, dt.datetime(2027, 6, 12, tzinfo=HK), "50", "55")
    at = dt.datetime(2027, 6, 12, 1, tzinfo=HK)
    assert _run(at, capture, dry_run=True) == [("traffic_notice", "100%"), ("traffic_throttle", "10Mbps")]
    assert (Notice.objects.filter(kind="traffic_exceeded").count(), TrafficEffect.objects.count()) == (0, 1)
    assert _run(at, capture) == [("traffic_notice", "100%"), ("traffic_throttle", "10Mbps")]
    assert _run(at, capture) == []  # a rerun does nothing twice
    server.refresh_from_db()
    machine = SandboxMachine.objects.get(name=server.name)
    assert (server.bandwidth_limit_mbps, machine.bandwidth_limit_mbps) == (10, 10)
    assert Operation.objects.get(kind="throttle", parameters={"mbps": 10}).status == "succeeded"
    assert Notice.objects.filter(kind="traffic_exceeded").count() == 1

    _sample(server, dt.datetime(2027, 7, 1, 0, 30, tzinfo=HK), "50.5", "55.5")
    july = dt.datetime(2027, 7, 1, 1, tzinfo=HK)
    assert _run(july, capture) == [("traffic_lift", "")]
    server.refresh_from_db()
    assert (server.bandwidth_limit_mbps, SandboxMachine.objects.get(name=server.name).bandwidth_limit_mbps) == (
        None,
        None,
    )
    assert _run(july, capture) == []
    assert Invoice.objects.filter(lines__kind="traffic_overage").count() == 0  # throttling charges nothing


def test_charge_invoices_each_started_gb_past_the_allowance_once_after_the_month(
    terms_v1, server, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _terms("charge", price_per_gb={"amount": "0.50", "currency": "USD"})
    _sample(server, T0 + dt.timedelta(hours=1), "0", "0")
    _sample(server, dt.datetime(2027, 6, 30, 12, tzinfo=HK), "50", "54.2")  # 104.2 GB: 5 started GB past
    assert _run(dt.datetime(2027, 6, 30, 13, tzinfo=HK), capture) == [
        ("traffic_notice", "80%"),
        ("traffic_notice", "100%"),
    ]
    assert Server.objects.get(pk=server.pk).bandwidth_limit_mbps is None  # charged, not limited
    balance_before = customer_balance(server.service.customer, "USD")
    _sample(server, dt.datetime(2027, 7, 1, 0, 30, tzinfo=HK), "50.1", "54.3")  # the tail of 30 June and July
    july = dt.datetime(2027, 7, 1, 1, tzinfo=HK)
    assert _run(july, capture, dry_run=True) == [("traffic_charge", "5GB")]
    assert not Invoice.objects.filter(lines__kind="traffic_overage").exists()
    assert _run(july, capture) == [("traffic_charge", "5GB")]
    assert _run(july, capture) == []
    invoice = Invoice.objects.get(lines__kind="traffic_overage")
    line = invoice.lines.get()
    assert (line.quantity, line.unit_price, line.amount, line.reference) == (
        Decimal(5),
        Decimal("0.50"),
        Decimal("2.50"),
        f"traffic:{server.service.public_id}:2027-06",
    )
    # Issued like any invoice: paid from the balance only where the customer's own setting says so (off here).
    assert (invoice.status, invoice.total) == ("issued", Decimal("2.50"))
    assert customer_balance(server.service.customer, "USD") == balance_before
    assert Notice.objects.filter(kind="invoice_issued", subject__contains=str(invoice.number)).count() == 1


def test_suspend_until_the_month_ends_then_resume(terms_v1, server, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    _terms("suspend")
    _sample(server, T0 + dt.timedelta(hours=1), "0", "0")
    _sample(server, dt.datetime(2027, 6, 20, tzinfo=HK), "60", "41")
    assert _run(dt.datetime(2027, 6, 20, 1, tzinfo=HK), capture) == [
        ("traffic_notice", "80%"),
        ("traffic_notice", "100%"),
        ("traffic_suspend", ""),
    ]
    service = Service.objects.get(pk=server.service_id)
    assert (service.status, service.reason) == ("suspended", "traffic")
    assert Notice.objects.get(kind="service_suspended").requirement == "TOS-NET-1"
    assert "used up its monthly traffic allowance" in Notice.objects.get(kind="service_suspended").body_text
    _sample(server, dt.datetime(2027, 7, 1, 0, 30, tzinfo=HK), "60", "41")
    assert _run(dt.datetime(2027, 7, 1, 1, tzinfo=HK), capture) == [("traffic_resume", "")]
    assert Service.objects.get(pk=server.service_id).status == "active"


def test_the_consequence_reads_as_the_terms_say():
    assert consequence(TrafficPolicy(overage="none")) == "nothing changes: the allowance is a guide."
    assert consequence(TrafficPolicy(overage="suspend")) == "the service is suspended until the month ends."
    assert consequence(TrafficPolicy(overage="charge")) == (
        "each started GB past the allowance costs 0.01 USD, invoiced after the month."
    )


def test_month_totals_follow_the_samples_and_split_at_the_months_start(terms_v1, server):
    """The running totals the run selects with agree with the chart's exact split: a sample interval across
    midnight of 1 July gives each month its share in proportion to time."""
    _sample(server, dt.datetime(2027, 6, 30, 20, tzinfo=HK), "0", "0")
    _sample(server, dt.datetime(2027, 7, 1, 4, tzinfo=HK), "8", "16")  # 4 h in June, 4 h in July
    assert not traffic_record(server=server, at=dt.datetime(2027, 7, 1, 4, tzinfo=HK), rx_bytes=1, tx_bytes=1)
    totals = {m.month: (m.rx_bytes, m.tx_bytes) for m in TrafficMonth.objects.filter(server=server)}
    assert totals == {"2027-06": (4 * GB, 8 * GB), "2027-07": (4 * GB, 8 * GB)}
    with clock.travel(dt.datetime(2027, 7, 1, 4, tzinfo=HK)):
        july = traffic_usage(server, counted="in_and_out")
    assert july.used_bytes == 12 * GB  # the same figure from the samples themselves


def test_servers_far_from_their_allowance_cost_the_run_no_queries_of_their_own(
    terms_v1, server, vps, django_capture_on_commit_callbacks
):
    """One server or four far from the allowance: the same queries; one near it: more (it is evaluated)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from megalayer.conftest import make_customer

    at = dt.datetime(2027, 6, 10, 1, tzinfo=HK)

    def queries() -> int:
        with clock.travel(at), CaptureQueriesContext(connection) as captured:
            automation_run()
        return len(captured.captured_queries)

    def far(one: Server) -> None:
        _sample(one, T0 + dt.timedelta(hours=1), "0", "0")
        _sample(one, dt.datetime(2027, 6, 10, tzinfo=HK), "1", "1")  # 2 % of the allowance

    far(server)
    queries()  # the first run does the day's other steps; from here on the run is steady
    one = queries()
    for index in range(3):
        customer = with_billing(make_customer(f"far{index}@example.com", terms_v1))
        fund(customer, "10.00")
        with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
            order_place(customer=customer, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
        far(Server.objects.get(service__customer=customer))
    queries()
    assert queries() == one
    _sample(server, dt.datetime(2027, 6, 10, 0, 30, tzinfo=HK), "40", "45")  # now 85 %: a candidate
    queries()  # its 80 % notice
    assert queries() > one  # evaluated on every run while near its allowance (no effect twice)
