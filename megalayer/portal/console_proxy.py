"""The console proxy (issue 18): an ASGI application that joins a browser's websocket (noVNC) to a machine's
VNC listener, after claiming the console ticket in the websocket's path for the person signed in.

It runs as its own small process (``megalayer console_proxy``; ``megalayer run`` starts it on the web port
+ 1), not inside the web server: the web server stays WSGI (synchronous Django at full speed), and a console
session holds its connection for as long as it is open. It speaks to the VNC server in plain RFB and passes
bytes both ways; it never reads or keeps what goes through.

Refusals close the websocket before it is accepted; the close code says which: 4403 (no valid ticket for
this session: reused, expired, someone else's, or no session), 4400 (a page of another site), 4404 (no such
path), 1011 (the machine's console does not answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.db import close_old_connections
from django.http.request import validate_host

from megalayer.core.errors import DomainError
from megalayer.provisioning.actions.console import console_claim
from megalayer.provisioning.drivers.base import ConsoleEndpoint

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
PREFIX = "/console/ws/"
CHUNK = 64 * 1024


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _signed_in(cookie_header: str) -> int | None:
    """The user id of the Django session in the cookies, checked the way Django checks it (the session's
    auth hash: a changed password ends it); None without a valid signed-in session."""
    cookies = SimpleCookie()
    with contextlib.suppress(Exception):  # a malformed Cookie header is no session
        cookies.load(cookie_header)
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
    user = get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    return int(user.pk) if user.is_authenticated else None


def _claim(token: str, cookie_header: str, peer: str) -> ConsoleEndpoint:
    close_old_connections()
    try:
        return console_claim(token=token, user_id=_signed_in(cookie_header), peer=peer)
    finally:
        close_old_connections()


def _same_site(origin: str) -> bool:
    """A browser always sends Origin with a websocket; a page of another site must not use the session."""
    if not origin:
        return True  # not a browser (a command-line client): the session cookie and ticket still decide
    host = urlsplit(origin).hostname or ""
    return validate_host(host, settings.ALLOWED_HOSTS)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        ok = scope["path"] == "/console/healthz"
        body = b"ok\n" if ok else b"not found\n"
        await send(
            {"type": "http.response.start", "status": 200 if ok else 404, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": body})
        return
    if scope["type"] != "websocket":
        return
    await _websocket(scope, receive, send)


async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    path, headers = scope["path"], _headers(scope)
    if not path.startswith(PREFIX):
        await send({"type": "websocket.close", "code": 4404})
        return
    if not _same_site(headers.get("origin", "")):
        await send({"type": "websocket.close", "code": 4400})
        return
    client = scope.get("client") or ("", 0)
    try:
        endpoint = await sync_to_async(_claim, thread_sensitive=False)(
            path[len(PREFIX) :], headers.get("cookie", ""), str(client[0])
        )
    except DomainError:
        await send({"type": "websocket.close", "code": 4403})
        return
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(endpoint.host, endpoint.port), timeout=10)
    except (OSError, TimeoutError):
        logger.warning("console.unreachable", extra={"host": endpoint.host, "port": endpoint.port})
        await send({"type": "websocket.close", "code": 1011})
        return
    offered = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": "binary" if "binary" in offered else None})
    await _pump(receive, send, reader, writer)


async def _pump(receive: Receive, send: Send, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes both ways until either side ends; then both are closed."""

    async def browser_to_machine() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            if data:
                writer.write(data)
                await writer.drain()

    async def machine_to_browser() -> None:
        while data := await reader.read(CHUNK):
            await send({"type": "websocket.send", "bytes": data})

    tasks = {asyncio.ensure_future(browser_to_machine()), asyncio.ensure_future(machine_to_browser())}
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            with contextlib.suppress(Exception):  # a dropped peer ends the session, nothing more to do
                task.result()
    finally:
        writer.close()
        with contextlib.suppress(Exception):  # the browser may be gone already
            await send({"type": "websocket.close", "code": 1000})
