"""Traffic: counters sampled from the drivers (the chart and the allowance read them), and the monthly
allowance's consequences (issue 18; TOS-NET-1: the allowance is part of the product and its price).

``traffic_enforce`` is a step of the automation run (``services.hooks.automation_steps``), with its dry run.
For each live server of a product with an allowance it (1) lifts last month's limit or suspension once a new
month has begun, (2) charges last month's overage when the Terms say ``charge`` (each started GB past the
allowance, one invoice line, paid from the balance where it covers it), (3) sends the notices at the Terms'
percentages, and (4) applies the Terms' consequence once this month's allowance is used: a bandwidth limit,
or a suspension until the month ends. Every step is a ``TrafficEffect`` unique per (server, month, kind),
written in the transaction that does it: a rerun, a second worker or a run killed half-way does nothing twice.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.actions import LineData, invoice_create, invoice_issue
from megalayer.core import clock
from megalayer.core.errors import DomainError
from megalayer.core.money import Money
from megalayer.core.transactions import outermost
from megalayer.notices.actions import notice_for_customer
from megalayer.provisioning.actions import operation_request
from megalayer.provisioning.actions.hosts import host_driver
from megalayer.provisioning.choices import LineKind
from megalayer.provisioning.drivers.base import Capability, DriverError
from megalayer.provisioning.models import Operation, Server, TrafficEffect, TrafficMonth, TrafficSample
from megalayer.provisioning.queries import TrafficUsage, growth, month_bounds, spread, traffic_usage
from megalayer.services.actions import service_suspend, service_unsuspend
from megalayer.services.choices import Reason, Status
from megalayer.services.runs import Planned
from megalayer.terms.policy import Policy, TrafficPolicy
from megalayer.terms.queries import policy_at

ACTOR = Actor.system("automation")
REQUIREMENT = "TOS-NET-1"
GB = 10**9


def traffic_sample(*, servers: Iterable[Server] | None = None) -> int:
    """Read each live server's counters once (hourly by the worker) for the traffic chart."""
    now = clock.now().replace(second=0, microsecond=0)
    taken = 0
    rows = (
        servers
        if servers is not None
        else Server.objects.select_related("host").filter(destroyed_at__isnull=True, built_at__isnull=False)
    )
    for server in rows:
        driver = host_driver(server.host)
        if not driver.supports(Capability.TRAFFIC):
            continue
        try:
            counters = driver.traffic(server.name)
        except DriverError:
            continue
        taken += int(traffic_record(server=server, at=now, rx_bytes=counters.rx_bytes, tx_bytes=counters.tx_bytes))
    return taken


def _month_of(moment: dt.datetime) -> str:
    return f"{moment.astimezone(clock.provider_zone()):%Y-%m}"


def _month_starts(after: dt.datetime, before: dt.datetime) -> list[dt.datetime]:
    """The starts of calendar months (provider's zone) strictly between two moments."""
    zone = clock.provider_zone()
    local = after.astimezone(zone)
    cuts: list[dt.datetime] = []
    start = dt.datetime(local.year, local.month, 1, tzinfo=zone)
    while True:
        start = dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=zone)
        if start >= before:
            return cuts
        cuts.append(start)


def traffic_record(*, server: Server, at: dt.datetime, rx_bytes: int, tx_bytes: int) -> bool:
    """Keep one counter sample (once per server and moment) and add its growth since the previous sample to
    the month totals (``TrafficMonth``), split at month starts in proportion to time as the chart does.
    False when the sample was there already."""
    with transaction.atomic():
        previous = TrafficSample.objects.filter(server=server, at__lt=at).order_by("-at").first()
        _, created = TrafficSample.objects.get_or_create(
            server=server, at=at, defaults={"rx_bytes": rx_bytes, "tx_bytes": tx_bytes}
        )
        if not created or previous is None:
            return created  # the first sample is the baseline: no growth yet
        cuts = _month_starts(previous.at, at)
        rx = spread(growth(previous.rx_bytes, rx_bytes), previous.at, at, cuts)
        tx = spread(growth(previous.tx_bytes, tx_bytes), previous.at, at, cuts)
        for start, part_rx, part_tx in zip([previous.at, *cuts], rx, tx, strict=True):
            month = _month_of(start)
            TrafficMonth.objects.get_or_create(server=server, month=month)
            TrafficMonth.objects.filter(server=server, month=month).update(
                rx_bytes=F("rx_bytes") + part_rx, tx_bytes=F("tx_bytes") + part_tx
            )
    return True


def consequence(policy: TrafficPolicy) -> str:
    """What happens past the allowance, in the customer's words (notices, the server page)."""
    if policy.overage == "throttle":
        return f"the server's bandwidth is limited to {policy.throttle_mbps} Mbit/s until the month ends."
    if policy.overage == "charge":
        price = policy.price_per_gb.money()
        return f"each started GB past the allowance costs {price.amount} {price.currency}, invoiced after the month."
    if policy.overage == "suspend":
        return "the service is suspended until the month ends."
    return "nothing changes: the allowance is a guide."


def _context(server: Server, usage: TrafficUsage, policy: TrafficPolicy, percent: int) -> dict[str, object]:
    service = server.service
    return {
        "service": service,
        "product": service.product,
        "month": usage.month,
        "percent": percent,
        "used_gb": Decimal(usage.used_bytes) / GB,
        "allowance_gb": Decimal(usage.allowance_bytes) / GB,
        "forecast_gb": Decimal(usage.forecast_bytes) / GB,
        "consequence": consequence(policy),
    }


def _once(server: Server, month: str, kind: str, used: int, perform: Callable[[], str], failures: list[str]) -> bool:
    """Record the effect and do it in one transaction; False when it was done before (or failed: said)."""
    try:
        with outermost():
            effect = TrafficEffect.objects.create(
                server=server, month=month, kind=kind, at=clock.now(), used_bytes=used
            )
            reference = perform()
            if reference:
                TrafficEffect.objects.filter(pk=effect.pk).update(reference=reference[:64])
    except IntegrityError:
        return False
    except DomainError as error:
        failures.append(f"{server.service.public_id} traffic {kind}: {error.detail}")
        return False
    return True


def _done(server: Server, month: str, kind: str) -> bool:
    return TrafficEffect.objects.filter(server=server, month=month, kind=kind).exists()


def traffic_enforce(now: dt.datetime, policy: Policy, dry_run: bool, failures: list[str]) -> list[Planned]:
    """The allowance step of the automation run (see the module docstring); in a dry run, what it would do."""
    # Last month's Terms decide last month's overage: read once for the run, not once per server.
    local = now.astimezone(clock.provider_zone())
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = policy_at(month_start - dt.timedelta(microseconds=1)).traffic
    planned: list[Planned] = []
    for server in _candidates(now, policy, previous):
        planned.extend(_enforce_one(server, now, policy.traffic, previous, dry_run, failures))
    return planned


def _candidates(now: dt.datetime, policy: Policy, previous_policy: TrafficPolicy) -> list[Server]:
    """The servers with something to do, found with one query on the month totals: this month near or past
    the allowance (the lowest notice percentage), last month past it (a charge to make), or still limited or
    suspended for traffic (to lift). Every other server is not read at all."""
    this_month = _month_of(now)
    previous_month = _month_of(now.astimezone(clock.provider_zone()).replace(day=1) - dt.timedelta(days=1))
    lowest = min([*policy.traffic.notify_percent, 100])
    allowance = F("server__service__product__bandwidth_tb") * 10**12

    def counted(p: TrafficPolicy) -> Any:
        return F("tx_bytes") + F("rx_bytes") if p.counted == "in_and_out" else F("tx_bytes")

    near = TrafficMonth.objects.alias(used=counted(policy.traffic)).filter(
        month=this_month, used__gte=allowance * lowest / 100
    )
    ids = set(near.values_list("server_id", flat=True))
    if previous_policy.overage == "charge":
        charged = TrafficEffect.objects.filter(month=previous_month, kind="charge").values("server_id")
        past = (
            TrafficMonth.objects.alias(used=counted(previous_policy))
            .filter(month=previous_month, used__gt=allowance)
            .exclude(server_id__in=charged)
        )
        ids |= set(past.values_list("server_id", flat=True))
    return list(
        Server.objects.filter(destroyed_at__isnull=True, built_at__isnull=False, service__product__bandwidth_tb__gt=0)
        .filter(service__status__in=[Status.ACTIVE, Status.SUSPENDED])
        .filter(
            Q(pk__in=ids)
            | Q(bandwidth_limit_mbps__isnull=False)
            | Q(service__status=Status.SUSPENDED, service__reason=Reason.TRAFFIC)
        )
        .select_related("service__customer__owner", "service__product", "host")
        .order_by("pk")
    )


def _enforce_one(
    server: Server,
    now: dt.datetime,
    policy: TrafficPolicy,
    previous_policy: TrafficPolicy,
    dry_run: bool,
    failures: list[str],
) -> list[Planned]:
    service = server.service
    usage = traffic_usage(server, counted=policy.counted)
    items: list[Planned] = []

    def plan(kind: str, detail: str, why: str, perform: Callable[[], str], *, month: str = usage.month) -> None:
        if _done(server, month, kind):
            return
        item = Planned(service.public_id, f"traffic_{kind.split(':')[0]}", detail, now, why)
        if dry_run or _once(server, month, kind, usage.used_bytes, perform, failures):
            items.append(item)

    # (1) A new month: last month's limit or suspension ends (unless this month is used up too).
    if not usage.exceeded:
        if server.bandwidth_limit_mbps is not None:
            plan("lift", "", f"a new month ({usage.month}) began", lambda: _throttle(server, None, usage.month))
        if service.status == Status.SUSPENDED and service.reason == Reason.TRAFFIC:
            plan("resume", "", f"a new month ({usage.month}) began", lambda: _resume(server))
    # (2) Last month's overage, when the Terms of that month said "charge".
    previous_day = usage.start.astimezone(clock.provider_zone()).date() - dt.timedelta(days=1)
    if previous_policy.overage == "charge" and server.created_at < usage.start:
        last = traffic_usage(server, counted=previous_policy.counted, month_of=previous_day)
        if last.exceeded:
            gb = math.ceil((last.used_bytes - last.allowance_bytes) / GB)
            plan(
                "charge",
                f"{gb}GB",
                f"{last.month}: {gb} GB past the allowance",
                lambda: _charge(server, last, gb, previous_policy),
                month=last.month,
            )
    # (3) The notices on the way, and (4) the consequence once the allowance is used.
    for percent in policy.notify_percent:
        if usage.allowance_bytes and usage.percent >= percent:
            plan(
                f"notice:{percent}",
                f"{percent}%",
                f"{usage.used_bytes / GB:.1f} of {usage.allowance_bytes / GB:.0f} GB in {usage.month}",
                lambda p=percent: _notify(server, usage, policy, p),  # type: ignore[misc]
            )
    if usage.exceeded and policy.overage == "throttle" and service.status == Status.ACTIVE:
        plan(
            "throttle",
            f"{policy.throttle_mbps}Mbps",
            "the month's allowance is used",
            lambda: _throttle(server, policy.throttle_mbps, usage.month),
        )
    if usage.exceeded and policy.overage == "suspend" and service.status == Status.ACTIVE:
        plan("suspend", "", "the month's allowance is used", lambda: _suspend(server))
    return items


def _notify(server: Server, usage: TrafficUsage, policy: TrafficPolicy, percent: int) -> str:
    kind = "traffic_exceeded" if percent >= 100 else "traffic_warning"
    notice = notice_for_customer(
        kind=kind,
        customer=server.service.customer,
        dedupe_key=f"{kind}:{server.service.public_id}:{usage.month}:{percent}",
        context=_context(server, usage, policy, percent),
        requirement=REQUIREMENT,
    )
    return notice.public_id


def _throttle(server: Server, mbps: int | None, month: str) -> str:
    """Limit (or, with None, free) the server's bandwidth: an operation on the host, audited."""
    if not host_driver(server.host).supports(Capability.SHAPING):
        raise DomainError("the host cannot limit bandwidth; the limit is not applied")
    operation = operation_request(
        service=server.service,
        kind=Operation.Kind.THROTTLE,
        actor=ACTOR,
        idempotency_key=f"{server.name}:throttle:{month}:{mbps or 'lift'}",
        parameters={"mbps": mbps},
    )
    audit_record(
        actor=ACTOR,
        action="service.traffic_limited" if mbps else "service.traffic_limit_lifted",
        target_type="service",
        target_id=server.service.public_id,
        requirement=REQUIREMENT,
        data={"month": month, "mbps": mbps, "operation": operation.public_id},
    )
    return operation.public_id


def _suspend(server: Server) -> str:
    service_suspend(
        service=server.service,
        reason=Reason.TRAFFIC,
        actor=ACTOR,
        requirement=REQUIREMENT,
        note="the month's traffic allowance is used",
    )
    return ""


def _resume(server: Server) -> str:
    service_unsuspend(service=server.service, actor=ACTOR, requirement=REQUIREMENT, note="a new traffic month")
    return ""


def _charge(server: Server, usage: TrafficUsage, gb: int, policy: TrafficPolicy) -> str:
    """One invoice for the month's overage, issued and paid from the balance where it covers it."""
    service = server.service
    price = policy.price_per_gb.money()
    if price.currency != service.currency:
        raise DomainError(
            f"traffic.price_per_gb is in {price.currency} but the service bills in {service.currency}; "
            "nothing is converted, so nothing is charged"
        )
    first, last = month_bounds(usage.start.astimezone(clock.provider_zone()).date())
    draft = invoice_create(
        customer=service.customer,
        currency=service.currency,
        lines=[
            LineData(
                kind=LineKind.TRAFFIC_OVERAGE,
                reference=f"traffic:{service.public_id}:{usage.month}",
                description=(
                    f"Traffic of {service.public_id} in {usage.month} past its "
                    f"{usage.allowance_bytes // GB} GB allowance ({first:%d %b}–{last:%d %b %Y})"
                ),
                unit_price=Money(price.amount, price.currency),
                quantity=Decimal(gb),
                period_start=usage.start,
                period_end=usage.end,
            )
        ],
    )
    invoice = invoice_issue(invoice=draft, actor=ACTOR)
    audit_record(
        actor=ACTOR,
        action="service.traffic_charged",
        target_type="service",
        target_id=service.public_id,
        requirement=REQUIREMENT,
        data={"month": usage.month, "gb": gb, "invoice": invoice.public_id},
    )
    return invoice.public_id
