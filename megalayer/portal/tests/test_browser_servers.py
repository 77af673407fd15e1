"""Issue 18 in a real browser (Debian's Chromium, Playwright): the console page's noVNC reaches a real VNC
server through the console proxy; the server page shows console, rescue and traffic. Screenshots go to
test-artifacts/ to be looked at."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from megalayer.portal.tests.test_browser import ARTIFACTS, CHROMIUM, _sign_in
from megalayer.portal.tests.test_console import _service
from megalayer.testing_platform import READY_BOUND

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def test_the_console_page_connects_to_the_servers_screen(
    page, live_server, alice, vps, vnc, console_proxy, django_capture_on_commit_callbacks
):
    service = _service(alice, vps, django_capture_on_commit_callbacks, vnc)
    _sign_in(page, live_server, alice.owner)
    page.goto(f"{live_server.url}/account/services/{service.public_id}/")
    with page.context.expect_page() as opened:
        page.get_by_test_id("open-console").click()
    console = opened.value
    expect(console.get_by_test_id("console-status")).to_have_text("Connected", timeout=READY_BOUND * 1000)
    assert console.locator("[data-testid=console-screen] canvas").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    console.screenshot(path=str(ARTIFACTS / "console.png"))
    # The page's single-use link is spent: loading the same websocket again is refused.
    console.reload()
    expect(console.get_by_test_id("console-status")).to_have_text("Connected", timeout=READY_BOUND * 1000)
    from megalayer.provisioning.models import ConsoleTicket

    assert ConsoleTicket.objects.filter(used_at__isnull=False).count() == 2  # a reload opens a new ticket
