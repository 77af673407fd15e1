"""The browser console (issue 18): a short-lived single-use ticket per opening, claimed by the console proxy.

Opening a console writes a ``ConsoleTicket`` (only the token's SHA-256) and an audit event; the client area
or back office hands the token to noVNC, whose websocket reaches the proxy (``portal.console_proxy``). The
proxy claims the ticket by compare-and-set with the signed-in person of the websocket's session: a second
use, someone else's session or a late use (``MEGALAYER_CONSOLE_TICKET_SECONDS``) finds nothing to claim.
Only then does the driver say where the machine's VNC listens, and the proxy connects there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings

from megalayer.accounts.models import User
from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import NotFound, RuleRefused
from megalayer.provisioning.actions import live_server
from megalayer.provisioning.actions.hosts import host_driver
from megalayer.provisioning.drivers.base import Capability, ConsoleEndpoint, DriverError
from megalayer.provisioning.models import ConsoleTicket
from megalayer.services.choices import Status
from megalayer.services.models import Service


@dataclass(frozen=True, slots=True)
class ConsoleOpened:
    token: str
    expires_at: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def console_open(*, service: Service, user: User, by_staff: bool) -> ConsoleOpened:
    """A ticket for ``user`` to open the service's console once, soon. Customers: an active service only;
    staff (``accounts.manage_machines``, checked by the face): any live server. Audited either way."""
    server = live_server(service)
    if not by_staff and service.status != Status.ACTIVE:
        raise RuleRefused(
            "The console is available while the service is active.", rule="service-not-active", requirement="TOS-TERM-1"
        )
    if not host_driver(server.host).supports(Capability.CONSOLE):
        raise RuleRefused(
            "This server's host offers no browser console; write to support if you need one.",
            rule="console-unsupported",
            requirement="TOS-OS-1",
        )
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires = now + dt.timedelta(seconds=int(settings.MEGALAYER_CONSOLE_TICKET_SECONDS))
    ConsoleTicket.objects.create(
        token_hash=_digest(token), server=server, user=user, by_staff=by_staff, created_at=now, expires_at=expires
    )
    audit_record(
        actor=Actor.for_user(user),
        action="server.console_opened",
        target_type="service",
        target_id=service.public_id,
        requirement="TOS-AUDIT-1",
        data={"server": server.public_id, "by_staff": by_staff},
    )
    return ConsoleOpened(token=token, expires_at=expires)


def console_claim(*, token: str, user_id: int | None, peer: str = "") -> ConsoleEndpoint:
    """Use the ticket (once, in time, by the person it was issued to) and say where the console listens."""
    refused = NotFound("This console link is no longer valid: open the console again.")
    if user_id is None or not token or len(token) > 100:
        raise refused
    digest, now = _digest(token), clock.now()
    claimed = ConsoleTicket.objects.filter(
        token_hash=digest, used_at__isnull=True, expires_at__gt=now, user_id=user_id
    ).update(used_at=now, peer=peer[:64])
    if not claimed:
        raise refused
    ticket = ConsoleTicket.objects.select_related("server__host").get(token_hash=digest)
    if ticket.server.destroyed_at is not None:
        raise refused
    try:
        return host_driver(ticket.server.host).console(ticket.server.name)
    except DriverError as error:
        raise RuleRefused(
            f"The console cannot be reached now: {error}", rule="console-unavailable", requirement="TOS-OS-1"
        ) from error
