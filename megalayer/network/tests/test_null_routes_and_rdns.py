from __future__ import annotations

from typing import Any

import pytest

from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.catalog.models import Location, NetworkTier
from megalayer.conftest import make_customer, seed_catalog
from megalayer.core.errors import InvalidInput, NotFound, RuleRefused
from megalayer.network.actions import ip_allocate, null_route_end, null_route_start, rdns_set
from megalayer.network.announcers import ExaBgpAnnouncer, RecordingAnnouncer, host_route
from megalayer.network.models import NullRoute, Prefix, ReverseDns

pytestmark = pytest.mark.django_db
STAFF = Actor.system("abuse desk")


@pytest.fixture
def address(terms_v1):
    seed_catalog()
    where: dict[str, Any] = {
        "location": Location.objects.get(code="hkg"),
        "tier": NetworkTier.objects.get(code="premium"),
    }
    Prefix.objects.create(cidr="203.0.113.0/29", family=4, **where)
    owner = make_customer("owner@example.com")
    return owner, ip_allocate(customer=owner, **where).address


def test_a_null_route_is_announced_as_a_blackhole_once_and_withdrawn(address, django_capture_on_commit_callbacks):
    owner, ip = address
    RecordingAnnouncer.sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        null_route_start(
            address=ip, reason="outgoing SYN flood", requirement="TOS-ATTACK-1", actor=STAFF, case_reference="case_42"
        )
    with pytest.raises(RuleRefused, match="already null-routed"):
        null_route_start(address=ip, reason="again", requirement="TOS-ATTACK-1", actor=STAFF)
    with django_capture_on_commit_callbacks(execute=True):
        null_route_end(address=ip, actor=STAFF, note="customer cleaned the server")
    assert RecordingAnnouncer.sent == [
        f"announce {ip}/32 community 65535:666",
        f"withdraw {ip}/32 community 65535:666",
    ]
    event = AuditEvent.objects.get(action="ip.null_route")
    assert (event.requirement, event.data["customer"], event.data["case"]) == (
        "TOS-ATTACK-1",
        owner.public_id,
        "case_42",
    )
    assert NullRoute.objects.get().ended_at is not None
    with pytest.raises(NotFound):
        null_route_end(address=ip, actor=STAFF, note="twice")


def test_host_routes_and_the_exabgp_commands(tmp_path, settings):
    assert host_route("2001:db8::7") == "2001:db8::7/128"
    settings.MEGALAYER_EXABGP_PIPE = str(tmp_path / "exabgp.in")
    ExaBgpAnnouncer().announce("203.0.113.7")
    assert (tmp_path / "exabgp.in").read_text() == (
        "announce route 203.0.113.7/32 next-hop self community [65535:666]\n"
    )


def test_reverse_dns_is_set_by_the_holder_only_and_validated(address, bob):
    owner, ip = address
    record = rdns_set(customer=owner, address=ip, hostname="Mail.Example.com.")
    assert record.hostname == "mail.example.com"
    with pytest.raises(InvalidInput) as refused:
        rdns_set(customer=owner, address=ip, hostname="-bad-.example")
    assert refused.value.field == "hostname"
    with pytest.raises(NotFound):
        rdns_set(customer=bob, address=ip, hostname="stolen.example.com")
    with pytest.raises(InvalidInput):
        rdns_set(customer=owner, address="not-an-ip", hostname="x.example.com")
    assert ReverseDns.objects.get().hostname == "mail.example.com"


@pytest.mark.parametrize("foreign", ["8.8.8.8", "2001:4860:4860::8888", "203.0.113.8"])
def test_only_our_own_addresses_can_be_null_routed(address, staff, foreign, django_capture_on_commit_callbacks):
    """Issue 14, item 11: a null route for someone else's address (a public resolver, the address just past
    our prefix) is refused in the action and the staff API, with nothing recorded or announced."""
    import json

    from django.test import Client

    from megalayer.conftest import bearer

    RecordingAnnouncer.sent.clear()
    with pytest.raises(InvalidInput) as refused, django_capture_on_commit_callbacks(execute=True):
        null_route_start(address=foreign, reason="typo", requirement="TOS-ATTACK-1", actor=STAFF)
    assert refused.value.field == "address"
    body = {"address": foreign, "reason": "typo", "requirement": "TOS-ATTACK-1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            "/api/v1/staff/ip/null-routes", json.dumps(body), content_type="application/json",
            **bearer(staff, staff=True),
        )  # fmt: skip
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "address")
    assert not NullRoute.objects.exists()
    assert not AuditEvent.objects.filter(action="ip.null_route").exists()
    assert RecordingAnnouncer.sent == []
