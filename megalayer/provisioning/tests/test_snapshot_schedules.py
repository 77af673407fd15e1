"""Scheduled snapshots (issue 18): a priced add-on; daily or weekly at the customer's hour (provider's
zone), once per period whatever reruns, the schedule's own oldest snapshots pruned beyond "keep", the
customer's own never touched; refused with the reason without the add-on; another customer's is a 404."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import AddOn
from megalayer.conftest import bearer
from megalayer.core import clock
from megalayer.orders.actions import order_place
from megalayer.provisioning.actions import server_action
from megalayer.provisioning.actions.snapshots import snapshot_schedules_run
from megalayer.provisioning.models import Operation, SandboxMachine, Server, SnapshotSchedule
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
HK = ZoneInfo("Asia/Hong_Kong")
T0 = dt.datetime(2027, 6, 2, 11, 0, tzinfo=HK)
JSON = "application/json"


def _order(customer: Any, vps: Any, capture: Any, add_ons: dict[str, int]) -> Service:
    with_billing(customer)
    fund(customer, "20.00")
    with clock.travel(T0), capture(execute=True):
        order_place(
            customer=customer, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"), add_ons=add_ons
        )
    return Service.objects.get(customer=customer)


@pytest.fixture
def add_on(vps) -> AddOn:
    offer = AddOn.objects.create(
        code="snapshots", name="Scheduled snapshots", kind=AddOn.Kind.SNAPSHOTS, monthly_amount=Decimal("2.00")
    )
    offer.products.add(vps)
    return offer


def _put(service: Service, user: Any, body: dict[str, Any]) -> Any:
    with clock.travel(T0 + dt.timedelta(hours=1)):
        return Client().put(
            f"/api/v1/services/{service.public_id}/snapshot-schedule",
            json.dumps(body),
            content_type=JSON,
            **bearer(user),
        )


def _run(at: dt.datetime, capture: Any) -> tuple[int, int]:
    with clock.travel(at), capture(execute=True):
        run = snapshot_schedules_run()
    return run.requested, run.pruned


def _names(service: Service) -> list[str]:
    return [s["name"] for s in Server.objects.get(service=service).snapshots]


def test_without_the_add_on_the_schedule_is_refused_and_nothing_is_written(
    alice, vps, add_on, django_capture_on_commit_callbacks
):
    service = _order(alice, vps, django_capture_on_commit_callbacks, {})
    refused = _put(service, alice.owner, {"frequency": "daily", "keep": 7})
    assert (refused.status_code, refused.json()["requirement"]) == (409, "TOS-BACKUP-1")
    assert refused.json()["detail"] == (
        "Scheduled snapshots are an add-on: order the server with it to schedule snapshots."
    )
    assert SnapshotSchedule.objects.count() == 0
    got = Client().get(f"/api/v1/services/{service.public_id}/snapshot-schedule", **bearer(alice.owner)).json()
    assert got == {"available": False, "enabled": False, "frequency": None, "keep": None, "hour": None}


def test_daily_snapshots_once_a_day_keeping_the_newest(alice, vps, add_on, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    service = _order(alice, vps, capture, {"snapshots": 1})
    assert service.recurring_amount == Decimal("12.00")  # the plan's 10.00 and the add-on's 2.00 each month
    for bad, field in (({"frequency": "hourly", "keep": 2}, "frequency"), ({"frequency": "daily", "keep": 0}, "keep")):
        response = _put(service, alice.owner, bad)
        assert (response.status_code, response.json()["errors"][0]["field"]) == (422, field)
    assert SnapshotSchedule.objects.count() == 0
    saved = _put(service, alice.owner, {"frequency": "daily", "keep": 2, "hour": 3})
    assert saved.json() == {"available": True, "enabled": True, "frequency": "daily", "keep": 2, "hour": 3}
    assert AuditEvent.objects.get(action="server.snapshot_schedule_set").requirement == "TOS-BACKUP-1"
    with clock.travel(T0 + dt.timedelta(hours=2)), capture(execute=True):  # the customer's own snapshot
        server_action(
            service=service, kind="snapshot_create", actor=Actor.system("t"), idempotency_key="m", snapshot="mine"
        )

    assert _run(dt.datetime(2027, 6, 3, 2, 59, tzinfo=HK), capture) == (0, 0)  # before the hour
    assert _run(dt.datetime(2027, 6, 3, 3, 0, tzinfo=HK), capture) == (1, 0)
    assert _run(dt.datetime(2027, 6, 3, 4, 0, tzinfo=HK), capture) == (0, 0)  # once a day, however often it runs
    assert _run(dt.datetime(2027, 6, 4, 3, 15, tzinfo=HK), capture) == (1, 0)
    assert _run(dt.datetime(2027, 6, 5, 3, 15, tzinfo=HK), capture) == (1, 1)  # the third: the oldest goes
    assert _names(service) == ["mine", "auto-20270604", "auto-20270605"]
    machine = SandboxMachine.objects.get(name=Server.objects.get(service=service).name)
    assert [s["name"] for s in machine.snapshots] == ["mine", "auto-20270604", "auto-20270605"]
    assert Operation.objects.filter(kind="snapshot_create", parameters__scheduled=True).count() == 3


def test_weekly_on_mondays_and_stopping_keeps_the_snapshots(alice, vps, add_on, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    service = _order(alice, vps, capture, {"snapshots": 1})
    _put(service, alice.owner, {"frequency": "weekly", "keep": 4, "hour": 0})
    assert _run(dt.datetime(2027, 6, 7, 0, 5, tzinfo=HK), capture) == (1, 0)  # Monday of ISO week 23
    assert _run(dt.datetime(2027, 6, 9, 12, 0, tzinfo=HK), capture) == (0, 0)  # the same week
    assert _names(service) == ["auto-2027w23"]
    with clock.travel(T0 + dt.timedelta(days=7)):
        stopped = Client().delete(f"/api/v1/services/{service.public_id}/snapshot-schedule", **bearer(alice.owner))
    assert stopped.status_code == 204
    assert _run(dt.datetime(2027, 6, 14, 1, 0, tzinfo=HK), capture) == (0, 0)
    assert _names(service) == ["auto-2027w23"]


def test_the_schedules_names_are_its_own(alice, vps, add_on, django_capture_on_commit_callbacks):
    service = _order(alice, vps, django_capture_on_commit_callbacks, {"snapshots": 1})
    from megalayer.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="auto- are the schedule's own"), clock.travel(T0):
        server_action(
            service=service, kind="snapshot_create", actor=Actor.system("t"), idempotency_key="x", snapshot="auto-1"
        )


def test_another_customers_schedule_is_not_found(alice, bob, vps, add_on, django_capture_on_commit_callbacks):
    service = _order(alice, vps, django_capture_on_commit_callbacks, {"snapshots": 1})
    assert _put(service, bob.owner, {"frequency": "daily", "keep": 2}).status_code == 404
    url = f"/api/v1/services/{service.public_id}/snapshot-schedule"
    assert Client().get(url, **bearer(bob.owner)).status_code == 404
    assert Client().delete(url, **bearer(bob.owner)).status_code == 404
    assert SnapshotSchedule.objects.count() == 0
