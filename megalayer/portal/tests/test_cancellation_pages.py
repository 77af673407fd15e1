"""The client area's cancellation page (issue 20) and the back office's list of requests."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from megalayer.audit.actions import Actor
from megalayer.billing.tests.conftest import fund
from megalayer.conftest import make_staff, sign_in_staff
from megalayer.core import clock
from megalayer.orders.actions import order_place
from megalayer.services.models import Cancellation, Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 4, 12, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def service(alice, vps, django_capture_on_commit_callbacks) -> Service:
    with_billing(alice)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "10.00")
        order = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    return Service.objects.get(order=order)


def test_cancel_at_the_end_of_the_term_then_withdraw(alice_client, service, django_capture_on_commit_callbacks):
    page = f"/account/services/{service.public_id}/cancel/"
    detail = f"/account/services/{service.public_id}/"
    with clock.travel(T0 + dt.timedelta(days=1)):
        assert page in alice_client.get(detail).content.decode()  # the service page links to it
        form = alice_client.get(page).content.decode()
        assert "is not refunded" in form
        with django_capture_on_commit_callbacks(execute=True):
            done = alice_client.post(page, {"when": "end_of_term", "reason": "price", "comment": "cheaper"})
        assert done["Location"] == detail
        shown = alice_client.get(detail).content.decode()
        assert "Cancelled by you." in shown
        assert "ends on 12 May 2027, 09:00 UTC" in shown
        assert "Withdraw the cancellation" in alice_client.get(page).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            alice_client.post(page, {"action": "withdraw"})
    service.refresh_from_db()
    assert service.cancel_at is None
    assert list(Cancellation.objects.values_list("status", "reason", "comment")) == [("withdrawn", "price", "cheaper")]


def test_now_without_the_confirmation_shows_the_error_and_changes_nothing(
    alice_client, service, django_capture_on_commit_callbacks
):
    page = f"/account/services/{service.public_id}/cancel/"
    with django_capture_on_commit_callbacks(execute=True):
        refused = alice_client.post(page, {"when": "now", "reason": "moving"})
    assert refused.status_code == 200
    assert "Confirm to go ahead." in refused.content.decode()
    assert (Cancellation.objects.count(), Service.objects.get().status) == (0, "active")
    missing = alice_client.post(page, {"when": "end_of_term"})
    assert "This field is required." in missing.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = alice_client.post(page, {"when": "now", "reason": "moving", "confirm": "on"})
    assert done.status_code == 302
    assert Service.objects.get().status == "terminated"


def test_another_customers_cancellation_page_is_not_found(bob, service):
    client = Client()
    client.force_login(bob.owner)
    page = f"/account/services/{service.public_id}/cancel/"
    assert client.get(page).status_code == 404
    assert client.post(page, {"when": "now", "reason": "price", "confirm": "on"}).status_code == 404
    assert (Cancellation.objects.count(), Service.objects.get().status) == (0, "active")


def test_staff_see_the_requests_with_reasons_and_filter_them(alice_client, service, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(
            f"/account/services/{service.public_id}/cancel/",
            {"when": "end_of_term", "reason": "support", "comment": "Nobody answered"},
        )
    support = sign_in_staff(Client(), make_staff("support@megalayer.test", "support"))
    listing = support.get("/backoffice/cancellations/?status=pending").content.decode()
    assert service.public_id in listing
    assert "Nobody answered" in listing
    assert "Pending (1)" in listing
    assert service.public_id not in support.get("/backoffice/cancellations/?status=withdrawn").content.decode()
    assert "Request and reason" in support.get(f"/backoffice/services/{service.public_id}/").content.decode()
