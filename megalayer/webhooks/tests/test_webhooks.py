"""Outgoing webhooks (issue 20) against a real local HTTP receiver: events become signed deliveries in the
transaction that caused them, the documented snippet verifies them, failures are retried with back-off and
listed, staff replay, and SSRF targets are refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import transaction
from django.test import Client

from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.conftest import make_staff, sign_in_staff
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.events import event_emit
from megalayer.orders.actions import order_place
from megalayer.services.tests.conftest import with_billing
from megalayer.webhooks.actions import (
    MAX_ATTEMPTS,
    delivery_replay,
    endpoint_create,
    endpoint_set_active,
    webhooks_deliver_due,
)
from megalayer.webhooks.models import Attempt, Delivery, Endpoint
from megalayer.webhooks.tests.conftest import documented_verify

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
LOCAL = ["127.0.0.0/8"]


@pytest.fixture
def local(settings):  # the receiver is on loopback: allowed on purpose, as an operator would
    settings.WEBHOOK_ALLOW_NETWORKS = LOCAL
    return settings


def _emit(capture, kind="payment.received", subject="pay_1", customer="cus_1"):
    with capture(execute=True), transaction.atomic():
        return event_emit(kind, subject_id=subject, customer_id=customer, data={"amount": "10.00"})


def test_events_of_an_order_arrive_signed_once_each_and_the_documented_snippet_verifies_them(
    local, receiver, staff, alice, vps, django_capture_on_commit_callbacks
):
    verify = documented_verify()
    events = ["payment.received", "invoice.issued", "invoice.paid", "service.activated", "ticket.replied"]
    with clock.travel(T0):
        _, secret = endpoint_create(staff=staff, url=receiver.url, events=events, description="ERP")
        with_billing(alice)
        with django_capture_on_commit_callbacks(execute=True):
            fund(alice, "10.00")
            order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    got = [json.loads(r.body) for r in receiver.requests]
    assert sorted(doc["type"] for doc in got) == sorted(
        ["payment.received", "invoice.issued", "invoice.paid", "service.activated"]
    )  # the fund's payment, the order's invoice issued and paid, the service built; no ticket was answered
    assert len(receiver.handled) == len(receiver.requests) == 4  # every event once
    for request in receiver.requests:
        assert verify(secret, request.body, request.headers["Megalayer-Signature"], now=T0.timestamp())
        assert not verify("whsec_wrong", request.body, request.headers["Megalayer-Signature"], now=T0.timestamp())
        assert not verify(secret, request.body + b" ", request.headers["Megalayer-Signature"], now=T0.timestamp())
        assert not verify(  # a captured request replayed an hour later is refused
            secret, request.body, request.headers["Megalayer-Signature"], now=T0.timestamp() + 3600
        )
        doc = json.loads(request.body)
        assert request.headers["Megalayer-Event-Id"] == request.headers["Idempotency-Key"] == doc["id"]
        assert doc["data"]["customer"] == alice.public_id
    activated = next(doc for doc in got if doc["type"] == "service.activated")
    assert activated["data"]["object"] == "service"
    assert activated["data"]["status"] == "active"
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert Attempt.objects.filter(status_code=200).count() == 4
    assert secret not in json.dumps(list(AuditEvent.objects.values_list("data", flat=True)))


def test_a_rolled_back_change_sends_nothing(local, receiver, staff, django_capture_on_commit_callbacks):
    endpoint_create(staff=staff, url=receiver.url, events=["payment.received"])
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event_emit("payment.received", subject_id="pay_1", customer_id="cus_1")
        raise RuntimeError("the payment's transaction fails after the event")
    assert (Delivery.objects.count(), receiver.requests) == (0, [])


def test_only_subscribed_active_endpoints_get_an_event(local, receiver, staff, django_capture_on_commit_callbacks):
    wanted, _ = endpoint_create(staff=staff, url=receiver.url, events=["payment.received"])
    endpoint_create(staff=staff, url=receiver.url + "/other", events=["invoice.paid"])
    paused, _ = endpoint_create(staff=staff, url=receiver.url + "/paused", events=["payment.received"])
    endpoint_set_active(endpoint=paused, active=False, staff=staff)
    _emit(django_capture_on_commit_callbacks)
    assert list(Delivery.objects.values_list("endpoint", flat=True)) == [wanted.pk]
    assert len(receiver.requests) == 1


def test_failures_are_retried_with_back_off_then_delivered(local, receiver, staff, django_capture_on_commit_callbacks):
    receiver.answers = [500, 503]
    with clock.travel(T0):
        endpoint_create(staff=staff, url=receiver.url, events=["payment.received"])
        event = _emit(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at == T0 + dt.timedelta(minutes=1)
    with clock.travel(T0 + dt.timedelta(seconds=59)):
        assert webhooks_deliver_due() == {"released": 0}  # not due yet
    with clock.travel(T0 + dt.timedelta(minutes=1)):
        assert webhooks_deliver_due() == {"released": 0, "pending": 1}
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == T0 + dt.timedelta(minutes=4)  # then 3 minutes
    with clock.travel(T0 + dt.timedelta(minutes=4)):
        assert webhooks_deliver_due() == {"released": 0, "delivered": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == ("delivered", 3, T0 + dt.timedelta(minutes=4))
    assert list(delivery.attempt_rows.values_list("status_code", flat=True)) == [500, 503, 200]
    assert receiver.event_ids() == [event.id] * 3
    assert receiver.handled == [event.id]


def test_after_the_last_attempt_it_fails_and_staff_replay_it(
    local, receiver, staff, django_capture_on_commit_callbacks
):
    receiver.answers = [500] * MAX_ATTEMPTS
    at = T0
    with clock.travel(at):
        endpoint, _ = endpoint_create(staff=staff, url=receiver.url, events=["payment.received"])
        event = _emit(django_capture_on_commit_callbacks)
    for _ in range(MAX_ATTEMPTS - 1):
        at = Delivery.objects.get().next_attempt_at
        with clock.travel(at):
            webhooks_deliver_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert dt.timedelta(hours=20) < at - T0 < dt.timedelta(hours=26)  # the schedule spans about a day
    assert receiver.handled == []
    client = sign_in_staff(Client(), staff)
    page = client.get(f"/backoffice/webhooks/{endpoint.public_id}/?status=failed").content.decode()
    assert delivery.public_id in page
    assert page.count("HTTP 500") == MAX_ATTEMPTS
    with django_capture_on_commit_callbacks(execute=True):
        replayed = client.post(
            f"/backoffice/webhooks/{endpoint.public_id}/", {"action": "replay", "delivery": delivery.public_id}
        )
    assert replayed.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", MAX_ATTEMPTS + 1)
    assert receiver.handled == [event.id]
    assert AuditEvent.objects.filter(action="webhook.replayed", target_id=delivery.public_id).count() == 1
    with pytest.raises(RuleRefused):  # a delivery on its way cannot be replayed
        Delivery.objects.filter(pk=delivery.pk).update(status="sending")
        delivery_replay(delivery=delivery, staff=staff)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "ftp://example.com/hook",
        "http://user:secret@example.com/hook",
        "not a url",
    ],
)
def test_private_loopback_and_odd_urls_are_refused_with_nothing_written(staff, url):
    with pytest.raises(InvalidInput) as refused:
        endpoint_create(staff=staff, url=url, events=["invoice.paid"])
    assert refused.value.field == "url"
    assert (Endpoint.objects.count(), AuditEvent.objects.filter(action__startswith="webhook.").count()) == (0, 0)


def test_unknown_or_no_events_are_refused(staff, local, receiver):
    for events in ([], ["invoice.deleted"]):
        with pytest.raises(InvalidInput) as refused:
            endpoint_create(staff=staff, url=receiver.url, events=events)
        assert refused.value.field == "events"
    assert Endpoint.objects.count() == 0


def test_an_address_allowed_at_subscription_and_disallowed_later_is_not_called(
    local, receiver, staff, django_capture_on_commit_callbacks
):
    endpoint_create(staff=staff, url=receiver.url, events=["payment.received"])
    local.WEBHOOK_ALLOW_NETWORKS = []
    _emit(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert receiver.requests == []
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert "SSRF" in delivery.last_error


def test_the_back_office_adds_an_endpoint_and_shows_its_secret_once(
    local, receiver, django_capture_on_commit_callbacks
):
    admin = sign_in_staff(Client(), make_staff("admin@megalayer.test", "admin"))
    added = admin.post(
        "/backoffice/webhooks/",
        {"url": receiver.url, "events": ["invoice.paid", "ticket.replied"], "description": "CRM"},
    )
    page = added.content.decode()
    endpoint = Endpoint.objects.get()
    assert endpoint.secret["key"] in page  # shown once, on the answer to the form
    assert endpoint.events == ["invoice.paid", "ticket.replied"]
    assert endpoint.secret["key"] not in admin.get("/backoffice/webhooks/").content.decode()
    assert endpoint.secret["key"] not in admin.get(f"/backoffice/webhooks/{endpoint.public_id}/").content.decode()
    refused = admin.post("/backoffice/webhooks/", {"url": "http://169.254.169.254/", "events": ["invoice.paid"]})
    assert "SSRF" in refused.content.decode()
    assert Endpoint.objects.count() == 1
    support = sign_in_staff(Client(), make_staff("support@megalayer.test", "support"))
    assert support.get("/backoffice/webhooks/").status_code == 403
