"""The back office's webhooks pages in Chromium (issue 20): an endpoint added (its secret shown once), an
event delivered to a real local receiver after a failed attempt, and the deliveries with their attempts
(screenshots ``test-artifacts/webhooks.png``, ``webhook-deliveries.png``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction
from playwright.sync_api import expect

from megalayer.core.events import event_emit
from megalayer.portal.tests.test_browser import ARTIFACTS, _sign_in, pytestmark  # noqa: F401 (the marks)
from megalayer.webhooks.actions import webhooks_deliver_due
from megalayer.webhooks.models import Delivery, Endpoint
from megalayer.webhooks.tests.receiver import Receiver, serve


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve()


def test_an_endpoint_is_added_and_its_deliveries_shown_with_attempts(page, live_server, staff, receiver, settings):
    settings.WEBHOOK_ALLOW_NETWORKS = ["127.0.0.0/8"]
    _sign_in(page, live_server, staff)
    page.goto(f"{live_server.url}/backoffice/webhooks/")
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("Accounting system")
    page.get_by_label("payment.received — Money reached a customer's balance (gateway or bank transfer)").check()
    page.get_by_label("invoice.paid — An invoice was paid in full").check()
    page.get_by_role("button", name="Add endpoint").click()
    endpoint = Endpoint.objects.get()
    expect(page.get_by_test_id("webhook-secret")).to_contain_text(endpoint.secret["key"])
    page.screenshot(path=str(ARTIFACTS / "webhooks.png"), full_page=True)

    receiver.answers = [502]
    with transaction.atomic():
        event_emit("payment.received", subject_id="pay_demo", customer_id="cus_demo", data={"amount": "25.00"})
    webhooks_deliver_due()  # the first attempt (502), unless the commit already sent it
    Delivery.objects.update(next_attempt_at=Delivery.objects.get().created_at)
    webhooks_deliver_due()
    page.get_by_role("link", name=receiver.url).click()
    rows = page.get_by_test_id("deliveries").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Delivered")
    expect(rows.first).to_contain_text("HTTP 502")
    expect(rows.first).to_contain_text("HTTP 200")
    page.get_by_role("button", name="Replay").click()
    expect(page.locator(".messages")).to_contain_text("is sent again (same event id)")
    page.screenshot(path=str(ARTIFACTS / "webhook-deliveries.png"), full_page=True)
    assert receiver.handled == [Delivery.objects.get().event_id]
