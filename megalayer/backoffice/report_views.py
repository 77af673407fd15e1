"""Back office → Reports (issue 20): the month's figures on screen, with charts, and each table as CSV.

The page and the CSV are made from the same rows (``_tables``), so what is downloaded is what is shown."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from megalayer.backoffice.access import staff_required
from megalayer.backoffice.charts import bar_chart
from megalayer.core import clock
from megalayer.reports.queries import (
    Month,
    mrr,
    mrr_trend,
    receivables_ageing,
    refunds_by_reason,
    revenue,
    tax_collected,
)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    title: str
    header: list[str]
    rows: list[list[str]]


def _tables(month: Month) -> list[Table]:
    makers: list[tuple[str, str, list[str], Callable[[], list[list[str]]]]] = [
        (
            "mrr",
            "Recurring revenue (MRR)",
            ["Currency", "MRR", "ARR", "New", "Expansion", "Contraction", "Churned", "Net change", "Services"],
            lambda: [
                [
                    r.currency,
                    str(r.mrr),
                    str(r.arr),
                    str(r.new),
                    str(r.expansion),
                    str(r.contraction),
                    str(r.churned),
                    str(r.net_change),
                    str(r.services),
                ]
                for r in mrr(month)
            ],
        ),
        (
            "revenue",
            "Revenue invoiced, net of tax",
            ["By", "Key", "Currency", "Amount"],
            lambda: [[r.dimension, r.key, r.currency, str(r.amount)] for r in revenue(month)],
        ),
        (
            "tax",
            "Tax collected",
            ["Country", "Rate %", "Tax", "Currency", "Invoices", "Net", "Tax amount"],
            lambda: [
                [r.country, r.rate, r.name, r.currency, str(r.invoices), str(r.net), str(r.tax)]
                for r in tax_collected(month)
            ],
        ),
        (
            "ageing",
            "Receivables at the end of the month",
            ["Overdue", "Currency", "Invoices", "Amount"],
            lambda: [[r.bucket, r.currency, str(r.invoices), str(r.amount)] for r in receivables_ageing(month)],
        ),
        (
            "refunds",
            "Refunds by reason",
            ["Reason", "Currency", "Refunds", "Amount"],
            lambda: [[r.reason, r.currency, str(r.refunds), str(r.amount)] for r in refunds_by_reason(month)],
        ),
    ]
    return [Table(name, title, header, make()) for name, title, header, make in makers]


@staff_required("accounts.view_billing")
def reports(request: HttpRequest) -> HttpResponse:
    month = Month.of(clock.now())
    asked = request.GET.get("month", "").strip()
    if asked:
        try:
            month = Month.parse(asked)
        except ValueError:
            messages.error(request, "Give the month as YYYY-MM; showing the current month.")
    tables = _tables(month)
    wanted = request.GET.get("csv", "")
    if wanted:
        table = next((t for t in tables if t.name == wanted), None)
        if table is None:
            raise Http404("No such report.")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="megalayer-{table.name}-{month}.csv"'
        writer = csv.writer(response)
        writer.writerow(table.header)
        writer.writerows(table.rows)
        return response
    charts = [
        bar_chart(
            f"MRR, {currency}, 12 months to {month}",
            [(f"{m.month:02d}/{m.year % 100:02d}", value) for m, value in series],
            width=560,
        )
        for currency, series in mrr_trend(month, 12).items()
    ]
    return render(
        request,
        "backoffice/reports.html",
        {
            "month": month,
            "previous": month.previous(),
            "next": month.next(),
            "tables": tables,
            "charts": charts,
        },
    )
