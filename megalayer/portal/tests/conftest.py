"""Fixtures of the client area's tests: the browser, a real VNC server, the console proxy."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from megalayer.testing_platform import READY_BOUND, free_port, wait_until

CHROMIUM = "/usr/bin/chromium"
QEMU = shutil.which("qemu-system-x86_64")


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # test makes between browser steps are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        # Waits end when the page is ready; the bound is for a busy machine, not an idle one.
        context.set_default_timeout(READY_BOUND * 1000)
        page = context.new_page()
        # Every flow below runs under the real Content-Security-Policy (issue 14, item 8): Chromium reports what
        # the policy blocked on the console, and a blocked script or style sheet is a broken page.
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        yield page
        browser.close()
        assert blocked == [], "the Content-Security-Policy blocked part of a page"


@pytest.fixture
def vnc() -> Iterator[str]:
    """QEMU's own VNC server (a machine with no disk, paused before it runs): a real RFB peer."""
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed (.ci/run installs Debian's qemu-system-x86)")
    port = free_port()  # an ephemeral port the system just gave out: QEMU's display is its offset from 5900
    process = subprocess.Popen(
        [
            QEMU,
            "-nodefaults",
            "-machine",
            "pc",
            "-vga",
            "std",
            "-S",
            "-display",
            "none",
            "-vnc",
            f"127.0.0.1:{port - 5900}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"QEMU ended: {process.stderr.read().decode() if process.stderr else ''}")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(ready, "QEMU's VNC port")
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def console_proxy(settings: Any) -> Iterator[int]:
    """The console proxy's ASGI application under granian, embedded in this process (so it shares the test
    database), on a free port; the console page points noVNC at it."""
    import socket

    from granian.constants import Interfaces
    from granian.server.embed import Server

    from megalayer.portal.console_proxy import application

    port = free_port()
    settings.MEGALAYER_CONSOLE_WS_BASE = f":{port}"
    server = Server(application, address="127.0.0.1", port=port, interface=Interfaces.ASGI, log_enabled=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve()), daemon=True)
    thread.start()

    def answers() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_until(answers, "the console proxy's port")
    yield port
    loop.call_soon_threadsafe(server.stop)
    thread.join(timeout=READY_BOUND)
