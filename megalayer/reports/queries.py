"""The operator's figures (issue 20), computed from invoices, refunds and the services they bill, never from a
copy kept for reporting: MRR and ARR with new / expansion / contraction / churned MRR per month, revenue by
product, location and tier, tax collected per country and rate, receivables ageing, refunds by reason.

Months are calendar months in the provider's zone. Any past month can be computed again at any time:
invoices are frozen once issued and nothing here depends on the moment it runs.

MRR, the definition used: a service's monthly recurring revenue at the end of month M is what its paid invoice
covering that moment billed for it (the product line with its add-ons and any coupon discount, or the renewal
line; net of tax), divided by the months that invoice covers. "Covering the end of M" means the billed period
starts before the first instant of M+1 and ends at or after it. Money is never converted: every figure is per
currency.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import Invoice, InvoiceLine, Refund
from megalayer.catalog.models import Product
from megalayer.core import clock
from megalayer.orders.choices import LineKind as OrderLine
from megalayer.orders.models import Order
from megalayer.services.choices import LineKind as ServiceLine
from megalayer.services.models import Service
from megalayer.services.periods import service_of_renewal_reference

CENT = Decimal("0.01")
RECURRING_KINDS = (OrderLine.ORDER, OrderLine.ADD_ON, OrderLine.DISCOUNT, ServiceLine.RENEWAL)


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; ValueError otherwise."""
        year, month = text.split("-")
        value = cls(int(year), int(month))
        if not 1 <= value.month <= 12 or not 2000 <= value.year <= 2999:
            raise ValueError(text)
        return value

    @classmethod
    def of(cls, moment: dt.datetime) -> Month:
        local = moment.astimezone(clock.provider_zone())
        return cls(local.year, local.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=clock.provider_zone()).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The first instant of the next month (exclusive)."""
        return self.next().start


def _months_between(start: dt.datetime, end: dt.datetime) -> int:
    a, b = start.astimezone(clock.provider_zone()), end.astimezone(clock.provider_zone())
    return max((b.year - a.year) * 12 + b.month - a.month, 1)


@dataclass(frozen=True, slots=True)
class Billed:
    """What one paid invoice billed one service for one period (its lines of one reference, summed)."""

    service: str
    currency: str
    amount: Decimal
    start: dt.datetime
    end: dt.datetime

    @property
    def monthly(self) -> Decimal:
        return self.amount / _months_between(self.start, self.end)


@dataclass(slots=True)
class _Group:
    currency: str
    kind: str
    amount: Decimal = Decimal(0)
    period: tuple[dt.datetime, dt.datetime] | None = None


def _billed_periods(until: dt.datetime) -> list[Billed]:
    """Every paid invoice's recurring billing per (invoice, reference), with the service it is for."""
    lines = (
        InvoiceLine.objects.filter(
            invoice__status=InvoiceStatus.PAID, kind__in=RECURRING_KINDS, invoice__issued_at__lt=until
        )
        .values_list("invoice_id", "invoice__currency", "kind", "reference", "amount", "period_start", "period_end")
        .order_by("invoice_id", "id")
    )
    groups: dict[tuple[int, str], _Group] = {}
    for invoice_id, currency, kind, reference, amount, start, end in lines:
        group = groups.setdefault((invoice_id, reference), _Group(currency, kind))
        group.amount += amount
        if start is not None and end is not None:
            group.period = (start, end)
    order_refs = [ref for (_, ref), group in groups.items() if group.kind != ServiceLine.RENEWAL]
    service_of_order = dict(
        Order.objects.filter(public_id__in=order_refs, service__isnull=False).values_list(
            "public_id", "service__public_id"
        )
    )
    billed = []
    for (_, reference), group in groups.items():
        if group.period is None:
            continue
        if group.kind == ServiceLine.RENEWAL:
            service = service_of_renewal_reference(reference)
        else:
            service = service_of_order.get(reference, "")
        if service:  # an order whose service was never created bills nothing recurring
            billed.append(Billed(service, group.currency, group.amount, *group.period))
    return billed


def _mrr_by_service(billed: Iterable[Billed], month: Month) -> dict[tuple[str, str], Decimal]:
    """(service, currency) → monthly amount at the end of ``month``."""
    boundary = month.end
    result: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for item in billed:
        if item.start < boundary <= item.end:
            result[(item.service, item.currency)] += item.monthly
    return dict(result)


@dataclass(frozen=True, slots=True)
class MrrRow:
    """One currency's MRR at the end of a month and how it moved from the month before."""

    month: str
    currency: str
    mrr: Decimal
    arr: Decimal
    new: Decimal
    expansion: Decimal
    contraction: Decimal
    churned: Decimal
    services: int

    @property
    def net_change(self) -> Decimal:
        return self.new + self.expansion - self.contraction - self.churned


def mrr(month: Month, *, billed: list[Billed] | None = None) -> list[MrrRow]:
    """MRR per currency at the end of ``month``, with its movements against the previous month."""
    billed = billed if billed is not None else _billed_periods(month.end)
    now, before = _mrr_by_service(billed, month), _mrr_by_service(billed, month.previous())
    currencies = sorted({currency for _, currency in now} | {currency for _, currency in before})
    rows = []
    for currency in currencies:
        moves = {"new": Decimal(0), "expansion": Decimal(0), "contraction": Decimal(0), "churned": Decimal(0)}
        keys = {key for key in (*now, *before) if key[1] == currency}
        for key in keys:
            a, b = before.get(key, Decimal(0)), now.get(key, Decimal(0))
            if a == 0 and b > 0:
                moves["new"] += b
            elif a > 0 and b == 0:
                moves["churned"] += a
            elif b > a:
                moves["expansion"] += b - a
            elif a > b:
                moves["contraction"] += a - b
        total = sum((value for key, value in now.items() if key[1] == currency), Decimal(0))
        rows.append(
            MrrRow(
                month=str(month),
                currency=currency,
                mrr=total.quantize(CENT),
                arr=(total * 12).quantize(CENT),
                new=moves["new"].quantize(CENT),
                expansion=moves["expansion"].quantize(CENT),
                contraction=moves["contraction"].quantize(CENT),
                churned=moves["churned"].quantize(CENT),
                services=sum(1 for key, value in now.items() if key[1] == currency and value > 0),
            )
        )
    return rows


def mrr_trend(last: Month, months: int = 12) -> dict[str, list[tuple[Month, Decimal]]]:
    """MRR per currency for each of the ``months`` months up to ``last``, a month without any being 0 (one read
    of the invoices for all of them)."""
    billed = _billed_periods(last.end)
    series = [last]
    while len(series) < months:
        series.insert(0, series[0].previous())
    figures = {month: {row.currency: row.mrr for row in mrr(month, billed=billed)} for month in series}
    currencies = sorted({currency for by_currency in figures.values() for currency in by_currency})
    return {
        currency: [(month, figures[month].get(currency, Decimal("0.00"))) for month in series]
        for currency in currencies
    }


@dataclass(frozen=True, slots=True)
class RevenueRow:
    dimension: str  # product / location / tier
    key: str
    currency: str
    amount: Decimal


def revenue(month: Month) -> list[RevenueRow]:
    """Net revenue invoiced in ``month`` (issued, not voided; tax excluded), by product, location and tier of
    the service each line bills; lines that bill no service (fees, top-ups) are "other"."""
    lines = InvoiceLine.objects.filter(invoice__issued_at__gte=month.start, invoice__issued_at__lt=month.end).exclude(
        invoice__status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT]
    )
    rows = list(lines.values_list("kind", "reference", "amount", "invoice__currency"))
    orders = dict(
        Order.objects.filter(public_id__in=[r for k, r, _, _ in rows if k != ServiceLine.RENEWAL]).values_list(
            "public_id", "product_id"
        )
    )
    services = dict(
        Service.objects.filter(
            public_id__in=[service_of_renewal_reference(r) for k, r, _, _ in rows if k == ServiceLine.RENEWAL]
        ).values_list("public_id", "product_id")
    )
    products = {
        p.pk: p for p in Product.objects.filter(pk__in={*orders.values(), *services.values()}).select_related(
            "location", "tier"
        )
    }  # fmt: skip
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for kind, reference, amount, currency in rows:
        if kind == ServiceLine.RENEWAL:
            product_id = services.get(service_of_renewal_reference(reference))
        elif kind in RECURRING_KINDS:
            product_id = orders.get(reference)
        else:
            product_id = None
        product = products.get(product_id) if product_id else None
        keys = (product.code, product.location.code, product.tier.code) if product else ("other", "other", "other")
        for dimension, key in zip(("product", "location", "tier"), keys, strict=True):
            totals[(dimension, key, currency)] += amount
    return [
        RevenueRow(dimension, key, currency, amount.quantize(CENT))
        for (dimension, key, currency), amount in sorted(totals.items())
    ]


@dataclass(frozen=True, slots=True)
class TaxRow:
    country: str
    rate: str
    name: str
    currency: str
    invoices: int
    net: Decimal
    tax: Decimal


def tax_collected(month: Month) -> list[TaxRow]:
    """Tax on the invoices issued in ``month`` (not voided), per country and rate as frozen on each invoice."""
    invoices = Invoice.objects.filter(issued_at__gte=month.start, issued_at__lt=month.end).exclude(
        status__in=[InvoiceStatus.VOID, InvoiceStatus.DRAFT]
    )
    groups: dict[tuple[str, str, str, str], list[Decimal]] = {}
    for tax, currency, subtotal, tax_total in invoices.values_list("tax", "currency", "subtotal", "tax_total"):
        snapshot = tax or {}
        key = (snapshot.get("country", "") or "—", snapshot.get("rate", "0"), snapshot.get("name", ""), currency)
        group = groups.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
        group[0] += 1
        group[1] += subtotal
        group[2] += tax_total
    return [
        TaxRow(country, rate, name, currency, int(n), net.quantize(CENT), tax.quantize(CENT))
        for (country, rate, name, currency), (n, net, tax) in sorted(groups.items())
    ]


AGEING_BUCKETS = ("not yet due", "1–30 days", "31–60 days", "61–90 days", "over 90 days")


@dataclass(frozen=True, slots=True)
class AgeingRow:
    bucket: str
    currency: str
    invoices: int
    amount: Decimal


def receivables_ageing(month: Month) -> list[AgeingRow]:
    """What customers owed at the end of ``month``: invoices issued by then and neither paid nor voided by then,
    by days past their due date (the amount is the invoice's total less credit notes)."""
    at = month.end
    open_then = (
        Invoice.objects.filter(issued_at__lt=at)
        .exclude(paid_at__lt=at)
        .exclude(voided_at__lt=at)
        .exclude(status=InvoiceStatus.DRAFT)
    )
    totals: dict[tuple[str, str], list[Decimal]] = {}
    for due_at, currency, total, credited in open_then.values_list("due_at", "currency", "total", "amount_credited"):
        late = (at - due_at).days if due_at else 0
        index = 0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
        group = totals.setdefault((AGEING_BUCKETS[index], currency), [Decimal(0), Decimal(0)])
        group[0] += 1
        group[1] += total - credited
    order = {bucket: i for i, bucket in enumerate(AGEING_BUCKETS)}
    return [
        AgeingRow(bucket, currency, int(n), amount.quantize(CENT))
        for (bucket, currency), (n, amount) in sorted(totals.items(), key=lambda item: (order[item[0][0]], item[0][1]))
    ]


@dataclass(frozen=True, slots=True)
class RefundRow:
    reason: str
    currency: str
    refunds: int
    amount: Decimal


def refunds_by_reason(month: Month) -> list[RefundRow]:
    """Refunds made in ``month`` per reason (every one is on the provider's side: TOS-REFUND-1)."""
    groups: dict[tuple[str, str], list[Decimal]] = {}
    rows = Refund.objects.filter(created_at__gte=month.start, created_at__lt=month.end).values_list(
        "reason", "invoice__currency", "amount"
    )
    for reason, currency, amount in rows:
        group = groups.setdefault((reason, currency), [Decimal(0), Decimal(0)])
        group[0] += 1
        group[1] += amount
    return [
        RefundRow(reason, currency, int(n), amount.quantize(CENT))
        for (reason, currency), (n, amount) in sorted(groups.items())
    ]
