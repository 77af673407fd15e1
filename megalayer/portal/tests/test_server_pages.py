"""The server on the service page: power, reinstall with quota and fee, the password once, reverse DNS,
snapshots, traffic, live operation progress; another customer's server stays invisible."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.ledger.queries import customer_balance
from megalayer.network.models import ReverseDns
from megalayer.orders.actions import order_place
from megalayer.provisioning.actions.traffic import traffic_sample
from megalayer.provisioning.models import Operation, SandboxMachine, Server
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 6, 2, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def service(alice, vps, django_capture_on_commit_callbacks):
    from megalayer.audit.actions import Actor

    with_billing(alice)
    fund(alice, "10.00")
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("test"))
    return Service.objects.get(customer=alice)


def test_the_service_page_shows_the_server_and_its_controls(alice_client, service):
    with clock.travel(T0 + dt.timedelta(hours=1)):
        traffic_sample()
    with clock.travel(T0 + dt.timedelta(hours=3)):
        traffic_sample()
        page = alice_client.get(f"/account/services/{service.public_id}/").content.decode()
    assert "198.18.0.2" in page
    assert "1 free reinstall</strong> left in 2027-06" in page
    assert "after that each costs" in page
    assert "5.00" in page
    assert "Power off" in page
    assert "Show the new root password (once)" in page
    assert "Traffic per day this month" in page
    assert "keep your own backups" in page
    assert 'data-open="0"' in page  # nothing running: the page does not poll
    assert "Pale bars are estimates" not in page  # hourly samples: nothing is estimated


def test_the_traffic_chart_marks_days_estimated_over_a_sampling_gap(alice_client, service):
    """Issue 13: the bytes of a gap in the samples are spread over the days it covers, and the chart says so."""
    with clock.travel(T0 + dt.timedelta(hours=1)):
        traffic_sample()
    with clock.travel(T0 + dt.timedelta(hours=9)):  # the sampler missed seven runs
        traffic_sample()
        page = alice_client.get(f"/account/services/{service.public_id}/").content.decode()
    assert "Pale bars are estimates" in page
    assert page.count('fill-opacity="0.45"') == 2  # that day's in and out bars
    assert "(estimated: the samples have a gap here)" in page


def test_power_and_operation_progress(alice_client, service, django_capture_on_commit_callbacks):
    url = f"/account/services/{service.public_id}/"
    with clock.travel(T0 + dt.timedelta(minutes=5)), django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(url, {"action": "power_off", "request_id": "p1"})
    assert response.status_code == 302
    assert SandboxMachine.objects.get().power == "stopped"
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(url, {"action": "power_off", "request_id": "p1"})  # a double click: one operation
    assert Operation.objects.filter(service=service, kind="power_off").count() == 1
    progress = alice_client.get(f"{url}operations.json").json()
    assert progress["open"] is False
    assert progress["operations"][0]["kind"] == "Power off"
    assert progress["operations"][0]["status"] == "succeeded"


def test_reinstall_confirm_fee_and_password_once(alice, alice_client, service, django_capture_on_commit_callbacks):
    url = f"/account/services/{service.public_id}/"
    with clock.travel(T0 + dt.timedelta(hours=1)):
        with django_capture_on_commit_callbacks(execute=True):
            alice_client.post(url, {"action": "password"})  # the first password (from the build)
            unconfirmed = alice_client.post(url, {"action": "reinstall", "os_image": "windows-2022"}, follow=True)
        assert "Confirm that the reinstall erases the whole disk." in unconfirmed.content.decode()
        assert Operation.objects.filter(kind="reinstall").count() == 0
        with django_capture_on_commit_callbacks(execute=True):
            alice_client.post(
                url, {"action": "reinstall", "os_image": "windows-2022", "confirm_erase": "yes", "request_id": "a"}
            )
        assert Server.objects.get(service=service).image == "windows-2022"
        page = alice_client.get(url).content.decode()
        assert "The free reinstall of 2027-06 is used" in page
        assert "Reinstall for" in page
        assert "(self-activation required)" in page
        shown = alice_client.post(url, {"action": "password"})
        assert shown["Cache-Control"] == "no-store"
        assert "New Administrator password" in shown.content.decode()
        again = alice_client.post(url, {"action": "password"}, follow=True)
        assert "it has been shown already" in again.content.decode()
        short = alice_client.post(
            url,
            {"action": "reinstall", "os_image": "debian-12", "confirm_erase": "yes", "request_id": "b"},
            follow=True,
        )
        assert "balance" in short.content.decode().lower()
        assert Operation.objects.filter(kind="reinstall").count() == 1
        assert customer_balance(alice, "USD").amount == 0


def test_reverse_dns_and_snapshots(alice_client, service, django_capture_on_commit_callbacks):
    url = f"/account/services/{service.public_id}/"
    with clock.travel(T0 + dt.timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
        alice_client.post(url, {"action": "rdns", "address": "198.18.0.2", "hostname": "www.alice.example"})
        bad = alice_client.post(url, {"action": "rdns", "address": "198.18.0.2", "hostname": "no spaces"}, follow=True)
        alice_client.post(url, {"action": "snapshot_create", "snapshot": "first", "request_id": "s1"})
    assert ReverseDns.objects.get(address="198.18.0.2").hostname == "www.alice.example"
    assert "Enter a host name" in bad.content.decode()
    assert [s["name"] for s in Server.objects.get(service=service).snapshots] == ["first"]


def test_another_customers_server_is_404_and_untouched(bob, service):
    client = Client()
    client.force_login(bob.owner)
    url = f"/account/services/{service.public_id}/"
    assert client.get(url).status_code == 404
    assert client.get(f"{url}operations.json").status_code == 404
    assert client.post(url, {"action": "power_off"}).status_code == 404
    assert client.post(url, {"action": "password"}).status_code == 404
    assert SandboxMachine.objects.get().power == "running"
    assert list(Operation.objects.values_list("kind", flat=True)) == ["create"]
