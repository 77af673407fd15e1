"""Attack alarms from the network's DDoS detector (TOS-ATTACK-1).

The detector (FastNetMon's notify script, ``contrib/fastnetmon/notify.py``) posts each
ban and unban to ``/api/v1/hooks/attack-alarms``, signed with a shared secret. A ban
opens one alarm per (address, direction), finds who held the address at that moment
(``network.queries.holder_at``) and e-mails them at once; further bans of the same
attack only update its counters. An outgoing attack is null-routed automatically when
the Terms in force say so (``attack.auto_null_route_outgoing``); the unban ends the
alarm and lifts that null route.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest

from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.network.actions import null_route_end, null_route_start
from megalayer.network.models import NullRoute
from megalayer.network.queries import holder_at
from megalayer.notices.actions import notice_for_customer
from megalayer.notices.models import AttackAlarm, InboundEvent
from megalayer.terms.queries import policy_at, version_number_at

DETECTOR = Actor.system("attack detector")


@dataclass(frozen=True, slots=True)
class Alert:
    event_id: str
    address: str
    direction: str
    action: str
    pps: int = 0
    bps: int = 0
    details: str = ""


# FastNetMon's attack details: "Total incoming traffic: 812 mbps", "Incoming pps: 1.2 Mpps",
# "Total outgoing pps: 5000 packets per second", "Peak attack power: 1010 packets per second".
RATE = re.compile(
    r"^\s*(?P<label>[A-Za-z ]*?)\s*(?:traffic|pps|bandwidth|power)\s*:\s*(?P<value>[\d.,]+)\s*"
    r"(?P<unit>[kmgt]?bps|[kmgt]?bits?(?:/s| per second)|[kmgt]?pps|packets per second|[kmgt]?b/s)?",
    re.I | re.M,
)
UNIT = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000, "t": 1_000_000_000_000}


def rate_in(details: str, direction: str, kind: str) -> int:
    """The largest bandwidth (bits/s) or packet rate (packets/s) the details give for ``direction``, or 0.

    Lines of the other direction are skipped ("Total outgoing traffic" for an incoming attack).
    """
    best = 0
    other = {"incoming": "outgoing", "outgoing": "incoming"}.get(direction, "")
    for found in RATE.finditer(details):
        label, unit = found.group("label").lower(), (found.group("unit") or "").lower()
        if not unit or (other and other in label):
            continue
        measure = "pps" if unit.startswith("packets") or unit.endswith("pps") else "bps"
        if measure != kind:
            continue
        prefix = unit[0] if unit[0] in "kmgt" else ""
        try:
            value = Decimal(found.group("value").replace(",", ""))
        except InvalidOperation:
            continue
        best = max(best, int(value * UNIT[prefix]))
    return best


def _clean(alert: Alert) -> Alert:
    try:
        address = str(ipaddress.ip_address(alert.address.strip()))
    except ValueError as error:
        raise InvalidInput("Not an IP address.", field="ip") from error
    if alert.direction not in AttackAlarm.Direction.values:
        raise InvalidInput("direction is incoming, outgoing, internal or other.", field="direction")
    if alert.action not in ("ban", "unban"):
        raise InvalidInput("action is ban or unban.", field="action")
    if not alert.event_id.strip():
        raise InvalidInput("event_id is required.", field="event_id")
    return Alert(
        event_id=alert.event_id.strip()[:128],
        address=address,
        direction=alert.direction,
        action=alert.action,
        pps=max(int(alert.pps), 0) or rate_in(alert.details, alert.direction, "pps"),
        bps=max(int(alert.bps), 0) or rate_in(alert.details, alert.direction, "bps"),
        details=alert.details[:20000],
    )


def attack_alert(alert: Alert) -> str:
    """Record one detector alert; returns what happened (opened, repeat, ended, no open alarm, duplicate)."""
    alert = _clean(alert)
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(source="attack", event_id=alert.event_id, received_at=clock.now())
            outcome = _ban(alert) if alert.action == "ban" else _unban(alert)
            InboundEvent.objects.filter(pk=event.pk).update(outcome=outcome)
    except IntegrityError:
        return "duplicate"
    return outcome


def _ban(alert: Alert) -> str:
    now = clock.now()
    open_alarm = AttackAlarm.objects.filter(address=alert.address, direction=alert.direction, ended_at__isnull=True)
    if open_alarm.update(
        alerts=F("alerts") + 1,
        last_alert_at=now,
        peak_pps=Greatest(F("peak_pps"), alert.pps),
        peak_bps=Greatest(F("peak_bps"), alert.bps),
    ):
        return "repeat"

    holder = holder_at(alert.address, now)
    try:
        with transaction.atomic():
            alarm = AttackAlarm.objects.create(
                address=alert.address,
                direction=alert.direction,
                customer=holder.customer if holder else None,
                service=holder.service if holder else None,
                started_at=now,
                last_alert_at=now,
                peak_pps=alert.pps,
                peak_bps=alert.bps,
                details=alert.details,
            )
    except IntegrityError:  # a concurrent alert of the same attack opened it a moment ago
        open_alarm.update(alerts=F("alerts") + 1, last_alert_at=now)
        return "repeat"
    policy = policy_at(now)
    outgoing = alert.direction == AttackAlarm.Direction.OUTGOING and policy.attack.auto_null_route_outgoing
    if outgoing and not NullRoute.objects.filter(address=alert.address, ended_at__isnull=True).exists():
        route = null_route_start(
            address=alert.address,
            reason=f"outgoing attack ({alert.pps} pps)",
            requirement="TOS-ATTACK-1",
            case_reference=alarm.public_id,
            actor=DETECTOR,
        )
        AttackAlarm.objects.filter(pk=alarm.pk).update(null_route=route)
        alarm.null_route = route
    audit_record(
        actor=DETECTOR,
        action="attack.alarm",
        target_type="ip",
        target_id=alert.address,
        requirement="TOS-ATTACK-1",
        terms_version=version_number_at(now),
        data={
            "alarm": alarm.public_id,
            "direction": alert.direction,
            "pps": alert.pps,
            "bps": alert.bps,
            "customer": holder.customer.public_id if holder else None,
            "null_routed": alarm.null_route_id is not None,
        },
    )
    if holder is not None:
        notice_for_customer(
            kind="attack_alarm",
            customer=holder.customer,
            dedupe_key=f"attack_alarm:{alarm.public_id}",
            context={"alarm": alarm, "service": holder.service},
        )
    return "opened"


def _unban(alert: Alert) -> str:
    now = clock.now()
    alarm = (
        AttackAlarm.objects.select_for_update()
        .filter(address=alert.address, direction=alert.direction, ended_at__isnull=True)
        .first()
    )
    if alarm is None:
        return "no open alarm"
    AttackAlarm.objects.filter(pk=alarm.pk).update(ended_at=now, last_alert_at=now)
    route_id = alarm.null_route_id
    if route_id is not None and NullRoute.objects.filter(pk=route_id, ended_at__isnull=True).exists():
        null_route_end(address=alert.address, actor=DETECTOR, note=f"attack {alarm.public_id} ended (unban)")
    audit_record(
        actor=DETECTOR,
        action="attack.ended",
        target_type="ip",
        target_id=alert.address,
        requirement="TOS-ATTACK-1",
        data={"alarm": alarm.public_id, "alerts": alarm.alerts},
    )
    return "ended"
