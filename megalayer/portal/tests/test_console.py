"""The browser console (issue 18): the page opens a single-use ticket bound to the person and the server, the
proxy joins the websocket to the machine's VNC only for that person's session, once, in time; each opening
is audited; staff open any server's console. The real handshake runs against QEMU's own VNC server."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import struct
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.conftest import make_staff, sign_in_staff
from megalayer.core import clock
from megalayer.orders.actions import order_place
from megalayer.portal.console_proxy import application
from megalayer.provisioning.models import ConsoleTicket, Host, Server
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

T0 = dt.datetime(2027, 6, 2, 3, 0, tzinfo=dt.UTC)
QEMU = shutil.which("qemu-system-x86_64")


def _service(
    alice: Any, vps: Any, capture: Any, console_address: str, add_ons: dict[str, int] | None = None
) -> Service:
    from megalayer.audit.actions import Actor

    Host.objects.filter(location=vps.location).update(
        parameters={"pool": "hkg", "latency_seconds": "0", "console_address": console_address}
    )
    with_billing(alice)
    fund(alice, "30.00")
    with clock.travel(T0), capture(execute=True):
        order_place(
            customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("test"), add_ons=add_ons
        )
    return Service.objects.get(customer=alice)


def _signed_in(user: Any) -> tuple[Client, str]:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}"


def _open(client: Client, url: str) -> str:
    """Open the console page; returns the websocket path it gives noVNC."""
    page = client.get(url)
    assert page.status_code == 200, page.content[:300]
    assert page["Cache-Control"] == "no-store"
    assert "ws://testserver:8001" in page["Content-Security-Policy"]
    found = re.search(r'data-url="ws://testserver:8001(/console/ws/[^"]+)"', page.content.decode())
    assert found is not None
    return found.group(1)


async def _connect(
    path: str, cookie: str, origin: str = "http://testserver"
) -> tuple[ApplicationCommunicator, dict[str, Any]]:
    headers = [(b"cookie", cookie.encode()), (b"origin", origin.encode())] if cookie else [(b"origin", origin.encode())]
    scope = {
        "type": "websocket",
        "path": path,
        "headers": headers,
        "subprotocols": ["binary"],
        "client": ("203.0.113.9", 5000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "websocket.connect"})
    return communicator, await communicator.receive_output(timeout=30)


def _refused(path: str, cookie: str, origin: str = "http://testserver") -> int:
    async def go() -> int:
        communicator, first = await _connect(path, cookie, origin)
        await communicator.wait(timeout=5)
        assert first["type"] == "websocket.close"
        return int(first["code"])

    return asyncio.run(go())


def _rfb_handshake(path: str, cookie: str) -> tuple[bytes, int, int, bytes]:
    """Through the proxy: version, security (None), ClientInit, ServerInit, as a VNC viewer does."""

    async def go() -> tuple[bytes, int, int, bytes]:
        communicator, accepted = await _connect(path, cookie)
        assert accepted == {"type": "websocket.accept", "subprotocol": "binary"}
        buffer = b""

        async def read(n: int) -> bytes:
            nonlocal buffer
            while len(buffer) < n:
                message = await communicator.receive_output(timeout=30)
                assert message["type"] == "websocket.send", message
                buffer += message["bytes"]
            data, buffer = buffer[:n], buffer[n:]
            return data

        version = await read(12)
        await communicator.send_input({"type": "websocket.receive", "bytes": b"RFB 003.008\n"})
        count = (await read(1))[0]
        types = await read(count)
        assert 1 in types  # "None": the listener is reachable only by the proxy
        await communicator.send_input({"type": "websocket.receive", "bytes": b"\x01"})
        assert struct.unpack(">I", await read(4)) == (0,)  # SecurityResult: OK
        await communicator.send_input({"type": "websocket.receive", "bytes": b"\x01"})  # ClientInit, shared
        width, height = struct.unpack(">HH", await read(4))
        await read(16)  # pixel format
        (length,) = struct.unpack(">I", await read(4))
        name = await read(length)
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=10)
        return version, width, height, name

    return asyncio.run(go())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_customer_opens_the_console_once_through_the_proxy_to_a_real_vnc_server(
    alice, bob, vps, vnc, django_capture_on_commit_callbacks
):
    service = _service(alice, vps, django_capture_on_commit_callbacks, vnc)
    client, cookie = _signed_in(alice.owner)
    # No clock travel here: the proxy claims in threads of its own, which read the process's clock (the
    # ticket is made and claimed at the same "now", whatever date the suite runs at).
    path = _open(client, f"/account/services/{service.public_id}/console/")
    _, bob_cookie = _signed_in(bob.owner)
    assert _refused(path, bob_cookie) == 4403  # another customer's session: refused…
    assert _refused(path, "") == 4403  # …no session at all: refused…
    assert _refused(path, cookie, origin="https://evil.example") == 4400  # …a page of another site: refused
    version, width, height, name = _rfb_handshake(path, cookie)  # …and the ticket is still the owner's
    assert version == b"RFB 003.008\n"
    assert (width, height) == (640, 480)  # the paused guest's VGA text-mode screen
    assert name == b"QEMU"
    assert _refused(path, cookie) == 4403  # used once: a second use is refused
    ticket = ConsoleTicket.objects.get()
    assert (ticket.user_id, ticket.server, ticket.by_staff, ticket.peer) == (
        alice.owner.pk,
        Server.objects.get(service=service),
        False,
        "203.0.113.9",
    )
    assert ticket.used_at is not None
    opened = AuditEvent.objects.get(action="server.console_opened")
    assert (opened.actor_label, opened.target_id, opened.requirement) == (
        alice.owner.email,
        service.public_id,
        "TOS-AUDIT-1",
    )


@pytest.mark.django_db(transaction=True)
def test_a_console_ticket_expires_unused(alice, vps, django_capture_on_commit_callbacks):
    service = _service(alice, vps, django_capture_on_commit_callbacks, "127.0.0.1:5999")
    client, cookie = _signed_in(alice.owner)
    path = _open(client, f"/account/services/{service.public_id}/console/")
    ticket = ConsoleTicket.objects.get()
    assert ticket.expires_at - ticket.created_at == dt.timedelta(seconds=60)  # MEGALAYER_CONSOLE_TICKET_SECONDS
    # The proxy claims in its own thread, with the real clock: the ticket is made to have run out just now.
    ConsoleTicket.objects.filter(pk=ticket.pk).update(expires_at=clock.now() - dt.timedelta(seconds=1))
    assert _refused(path, cookie) == 4403
    assert ConsoleTicket.objects.get().used_at is None


@pytest.mark.django_db(transaction=True)
def test_an_unknown_path_or_token_is_refused(alice, vps, django_capture_on_commit_callbacks):
    _service(alice, vps, django_capture_on_commit_callbacks, "127.0.0.1:5999")
    _, cookie = _signed_in(alice.owner)
    assert _refused("/console/ws/not-a-ticket", cookie) == 4403
    assert _refused("/elsewhere", cookie) == 4404


@pytest.mark.django_db
def test_another_customers_console_is_not_found_and_no_ticket_is_made(
    alice, bob, vps, django_capture_on_commit_callbacks
):
    service = _service(alice, vps, django_capture_on_commit_callbacks, "127.0.0.1:5999")
    client, _ = _signed_in(bob.owner)
    assert client.get(f"/account/services/{service.public_id}/console/").status_code == 404
    assert ConsoleTicket.objects.count() == 0


@pytest.mark.django_db
def test_a_host_without_a_console_says_so_and_makes_no_ticket(alice, vps, django_capture_on_commit_callbacks):
    service = _service(alice, vps, django_capture_on_commit_callbacks, "")
    client, _ = _signed_in(alice.owner)
    with clock.travel(T0 + dt.timedelta(hours=1)):
        page = client.get(f"/account/services/{service.public_id}/console/", follow=True)
    assert "This server&#x27;s host offers no browser console" in page.content.decode()
    assert ConsoleTicket.objects.count() == 0
    assert not AuditEvent.objects.filter(action="server.console_opened").exists()


@pytest.mark.django_db
def test_staff_open_any_servers_console_with_the_machines_permission(alice, vps, django_capture_on_commit_callbacks):
    service = _service(alice, vps, django_capture_on_commit_callbacks, "127.0.0.1:5999")
    support = make_staff("support@megalayer.test", "support")
    operations = make_staff("ops@megalayer.test", "operations")
    url = f"/backoffice/services/{service.public_id}/console/"
    refused = sign_in_staff(Client(), support).get(url)
    assert (refused.status_code, refused["X-Megalayer-Missing-Permission"]) == (403, "accounts.manage_machines")
    with clock.travel(T0 + dt.timedelta(hours=1)):
        _open(sign_in_staff(Client(), operations), url)
    ticket = ConsoleTicket.objects.get()
    assert (ticket.user_id, ticket.by_staff) == (operations.pk, True)
    event = AuditEvent.objects.get(action="server.console_opened")
    assert (event.actor_kind, event.actor_label, event.data["by_staff"]) == ("staff", operations.email, True)


@pytest.mark.django_db
def test_the_api_opens_a_console_for_its_caller_only(alice, bob, vps, django_capture_on_commit_callbacks):
    from megalayer.conftest import bearer

    service = _service(alice, vps, django_capture_on_commit_callbacks, "127.0.0.1:5999")
    url = f"/api/v1/services/{service.public_id}/console"
    assert Client().post(url, **bearer(bob.owner)).status_code == 404
    assert Client().post(url, **bearer(alice.owner, scope="read")).status_code == 403
    assert ConsoleTicket.objects.count() == 0
    with clock.travel(T0 + dt.timedelta(hours=1)):
        opened = Client().post(url, **bearer(alice.owner))
    assert opened.status_code == 201
    assert re.fullmatch(r"ws://testserver:8001/console/ws/[A-Za-z0-9_-]{43}", opened.json()["websocket_url"])
    assert opened.json()["expires_at"] == "2027-06-02T04:01:00Z"
    assert ConsoleTicket.objects.get().user_id == alice.owner.pk
