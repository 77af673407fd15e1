"""Attack alarms (issue 6, must-show 4): the holder at the alarm time is told, once per attack; an outgoing
attack is null-routed when the Terms say so and released on unban; the hook is signed and processed once."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from megalayer.catalog.models import Location, NetworkTier
from megalayer.core import clock
from megalayer.core.signed_hooks import sign
from megalayer.network.actions import ip_allocate, ip_release
from megalayer.network.announcers import RecordingAnnouncer
from megalayer.network.models import NullRoute, Prefix
from megalayer.notices.models import AttackAlarm, Notice
from megalayer.terms.actions import terms_publish
from megalayer.terms.policy import default_policy_data

pytestmark = pytest.mark.django_db
SECRET = "attack-hook-secret"
URL = "/api/v1/hooks/attack-alarms"
T0 = dt.datetime(2027, 8, 1, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.MEGALAYER_ATTACK_HOOK_SECRET = SECRET


def _post(body: dict[str, Any], *, secret: str = SECRET, capture: Any = None) -> Any:
    payload = json.dumps(body).encode()
    headers: dict[str, Any] = {"HTTP_X_MEGALAYER_SIGNATURE": sign(payload, secret)}
    return Client().post(URL, payload, content_type="application/json", **headers)


def _alert(ip: str, action: str = "ban", direction: str = "incoming", **extra: Any) -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "ip": ip, "direction": direction, "action": action, "pps": 150000, **extra}


def _pool() -> dict[str, Any]:
    from megalayer.conftest import seed_catalog

    seed_catalog()
    where = {"location": Location.objects.get(code="sin"), "tier": NetworkTier.objects.get(code="standard")}
    Prefix.objects.create(cidr="203.0.113.0/29", family=4, gateway="203.0.113.1", **where)
    return where


def test_the_holder_at_the_alarm_time_is_told_once_per_attack(alice, bob, terms_v1):
    where = _pool()
    with clock.travel(T0):
        first = ip_allocate(customer=alice, **where)
    assert first.address == "203.0.113.2"
    with clock.travel(T0 + dt.timedelta(days=1)):
        ip_release(assignment=first)
    from megalayer.network.models import IpAssignment

    # after alice's quarantine the address goes to bob
    with clock.travel(T0 + dt.timedelta(days=40)):
        second = ip_allocate(customer=bob, **where)
    assert second.address == "203.0.113.2"
    assert IpAssignment.objects.filter(address="203.0.113.2").count() == 2
    with clock.travel(T0 + dt.timedelta(days=41)):
        responses = [_post(_alert("203.0.113.2", bps=900_000_000)).json()["outcome"] for _ in range(100)]
    assert responses == ["opened"] + ["repeat"] * 99
    alarm = AttackAlarm.objects.get()
    assert (alarm.customer, alarm.alerts, alarm.peak_bps) == (bob, 100, 900_000_000)
    mails = Notice.objects.filter(kind="attack_alarm")
    assert [(n.customer, n.recipient) for n in mails] == [(bob, "bob@example.com")]
    assert mails[0].subject == "Attack on your address 203.0.113.2"
    assert not Notice.objects.filter(kind="attack_alarm", customer=alice).exists()
    # an alarm about the time alice held it goes to alice
    with clock.travel(T0 + dt.timedelta(hours=5)):
        _post(_alert("203.0.113.2", direction="outgoing"))
    assert Notice.objects.filter(kind="attack_alarm", customer=alice).count() == 1


def test_outgoing_attacks_are_null_routed_when_the_terms_say_so_and_released_on_unban(
    alice, staff, terms_v1, django_capture_on_commit_callbacks
):
    where = _pool()
    data = default_policy_data()
    data["attack"]["auto_null_route_outgoing"] = True
    from megalayer.audit.actions import Actor

    with clock.travel(T0 - dt.timedelta(days=30)):
        terms_publish(
            body=terms_v1.body,
            summary="auto null route",
            update_date=(T0 - dt.timedelta(days=30)).date(),
            effective_at=T0 - dt.timedelta(days=1),
            policy=data,
            actor=Actor.for_user(staff),
            published_by=staff,
        )
    with clock.travel(T0):
        ip_allocate(customer=alice, **where)
    with clock.travel(T0 + dt.timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
        assert _post(_alert("203.0.113.2", direction="outgoing")).json()["outcome"] == "opened"
    route = NullRoute.objects.get(address="203.0.113.2", ended_at__isnull=True)
    assert (route.requirement, route.case_reference) == ("TOS-ATTACK-1", AttackAlarm.objects.get().public_id)
    assert RecordingAnnouncer.sent[-1] == "announce 203.0.113.2/32 community 65535:666"
    assert "null-routed until the attack ends" in Notice.objects.get(kind="attack_alarm").body_text
    with clock.travel(T0 + dt.timedelta(hours=2)), django_capture_on_commit_callbacks(execute=True):
        assert _post(_alert("203.0.113.2", action="unban", direction="outgoing")).json()["outcome"] == "ended"
    route.refresh_from_db()
    assert route.ended_at == T0 + dt.timedelta(hours=2)
    assert RecordingAnnouncer.sent[-1] == "withdraw 203.0.113.2/32 community 65535:666"
    assert AttackAlarm.objects.get().ended_at == T0 + dt.timedelta(hours=2)


def test_incoming_attacks_and_the_default_terms_do_not_null_route(alice, terms_v1):
    where = _pool()
    with clock.travel(T0):
        ip_allocate(customer=alice, **where)
        _post(_alert("203.0.113.2", direction="outgoing"))
        _post(_alert("203.0.113.3"))  # nobody holds it: recorded, nobody told
    assert not NullRoute.objects.exists()
    assert AttackAlarm.objects.count() == 2
    assert Notice.objects.filter(kind="attack_alarm").count() == 1


def test_the_hook_refuses_bad_signatures_and_processes_an_event_once(alice, terms_v1):
    body = _alert("203.0.113.9")
    refused = _post(body, secret="wrong")
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "X-Megalayer-Signature")
    unsigned = Client().post(URL, json.dumps(body), content_type="application/json")
    assert unsigned.status_code == 422
    payload = json.dumps(body).encode()
    stale = Client().post(
        URL, payload, content_type="application/json", HTTP_X_MEGALAYER_SIGNATURE=sign(payload, SECRET, 1_000_000)
    )
    assert stale.json()["detail"] == "The signature is too old or from the future."
    assert AttackAlarm.objects.count() == 0
    assert _post(body).json()["outcome"] == "opened"
    assert _post(body).json()["outcome"] == "duplicate"
    bad = _post({**_alert("not-an-ip")})
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "ip")
    assert AttackAlarm.objects.get().alerts == 1


@pytest.mark.django_db(transaction=True)
def test_the_fastnetmon_notify_script_signs_what_the_hook_checks(live_server, settings, terms_v1):
    script = Path(__file__).resolve().parents[3] / "contrib" / "fastnetmon" / "notify.py"
    details = "IP: 203.0.113.5\nAttack type: syn_flood\nIncoming traffic: 950 mbps\n"
    result = subprocess.run(
        [sys.executable, str(script), "203.0.113.5", "incoming", "250000", "ban"],
        input=details,
        capture_output=True,
        text=True,
        env={**os.environ, "MEGALAYER_HOOK_URL": f"{live_server.url}{URL}", "MEGALAYER_ATTACK_HOOK_SECRET": SECRET},
        timeout=30,
        check=False,
    )
    assert json.loads(result.stdout) == {"outcome": "opened"}, result.stderr
    alarm = AttackAlarm.objects.get()
    assert (alarm.address, alarm.peak_pps, alarm.peak_bps) == ("203.0.113.5", 250000, 950_000_000)
    assert "syn_flood" in alarm.details


def test_staff_see_alarms_in_the_back_office(staff_client, alice_client, terms_v1):
    _post(_alert("203.0.113.9", pps=123456))
    page = staff_client.get("/backoffice/network/attacks/?open=1").content.decode()
    assert "203.0.113.9" in page
    assert "123456" in page
    assert "in progress" in page
    assert alice_client.get("/backoffice/network/attacks/").status_code == 302


DETAILS = """IP: 203.0.113.2
Attack type: syn_flood
Initial attack power: 1010 packets per second
Peak attack power: 250000 packets per second
Attack direction: {direction}
Total incoming traffic: 812 mbps
Total outgoing traffic: 3 mbps
Total incoming pps: 250000 packets per second
Total outgoing pps: 10 packets per second
"""


@pytest.mark.parametrize(("direction", "subject", "bps"), [
    ("incoming", "Attack on your address 203.0.113.2", 812_000_000),
    ("other", "Attack on your address 203.0.113.2", 812_000_000),
    ("internal", "Attack from your address 203.0.113.2", 812_000_000),
])  # fmt: skip
def test_every_direction_is_accepted_and_the_bandwidth_is_read_from_the_details(
    alice, terms_v1, direction, subject, bps
):
    where = _pool()
    with clock.travel(T0):
        ip_allocate(customer=alice, **where)
    with clock.travel(T0 + dt.timedelta(hours=1)):
        alert = _alert("203.0.113.2", direction=direction, pps=0, details=DETAILS.format(direction=direction))
        assert _post(alert).json() == {"outcome": "opened"}
    alarm = AttackAlarm.objects.get()
    assert (alarm.direction, alarm.peak_bps, alarm.peak_pps) == (direction, bps, 250000)
    assert Notice.objects.get(kind="attack_alarm").subject == subject
    assert NullRoute.objects.count() == 0  # only an outgoing attack is null-routed automatically
