"""Reports (issue 20): the MRR of a seeded month equals the figure worked out by hand, its movements add up, the
other tables come from the same invoices, and the CSV is what the screen shows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.test import Client

from megalayer.audit.actions import Actor
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import PriceVersion, Product
from megalayer.conftest import make_customer, make_staff, sign_in_staff
from megalayer.core import clock
from megalayer.orders.actions import order_place
from megalayer.reports.queries import Month, mrr, receivables_ageing, revenue
from megalayer.services.actions import services_migrate_price
from megalayer.services.actions.automation import automation_run
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
MARCH = Month(2027, 3)
ACTOR = Actor.system("test")


def _at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2027, month, day, 4, 0, tzinfo=dt.UTC)  # noon in Hong Kong, the provider's zone


def _product(vps: Product, code: str) -> Product:
    product = Product.objects.create(
        code=code, name=code, kind="vps", location=vps.location, tier=vps.tier, cpu_cores=1, memory_gb=1,
        disk_gb=20, bandwidth_tb=Decimal("1"),
    )  # fmt: skip
    product.os_images.set(vps.os_images.all())
    PriceVersion.objects.create(
        product=product, cycle="monthly", amount=Decimal("10.00"), currency="USD", effective_at=_at(1, 1),
        created_at=_at(1, 1),
    )  # fmt: skip
    return product


@pytest.fixture
def seeded(alice, bob, vps, staff, django_capture_on_commit_callbacks) -> dict[str, Service]:
    """Five services at $10 a month, seen at the ends of February and March 2027:

    - A (Alice, vps) from 15 Jan, renewed every month: $10 at both ends;
    - B (Bob, vps) ordered 5 March: new in March, $10;
    - C (Carol, vps) ordered 10 Feb, never renewed (no money): $10 at the end of February, churned in March;
    - D (Alice, vps-d) from 25 Jan, its price raised to $16 on 10 March: renewed on 25 March at $16 (expansion 6);
    - E (Alice, vps-e) from 25 Jan, its price lowered to $7 on 10 March: renewed on 25 March at $7 (contraction 3).

    By hand: February MRR 10 + 10 + 10 + 10 = 40; March MRR 10 + 10 + 16 + 7 = 43; new 10, expansion 6,
    contraction 3, churned 10, net +3."""
    carol = make_customer("carol@example.com")
    for customer in (alice, bob, carol):
        with_billing(customer)
    vps_d, vps_e = _product(vps, "vps-d"), _product(vps, "vps-e")
    placed: dict[str, Service] = {}

    def order(name: str, customer, product: Product, at: dt.datetime, money: str) -> None:
        with clock.travel(at), django_capture_on_commit_callbacks(execute=True):
            if money:
                fund(customer, money)
            made = order_place(customer=customer, product=product, cycle="monthly", os_image=None, actor=ACTOR)
        placed[name] = Service.objects.get(order=made)

    order("A", alice, vps, _at(1, 15), "100.00")  # enough for A's, D's and E's renewals too
    order("D", alice, vps_d, _at(1, 25), "")
    order("E", alice, vps_e, _at(1, 25), "")
    order("C", carol, vps, _at(2, 10), "10.00")
    day = _at(1, 15)
    while day <= _at(4, 1):
        if day == _at(3, 5):
            order("B", bob, vps, day, "10.00")
        if day == _at(3, 10):
            services_migrate_price(product=vps_d, cycle="monthly", new_amount="16.00", staff=staff, note="upgrade")
            services_migrate_price(product=vps_e, cycle="monthly", new_amount="7.00", staff=staff, note="promo")
        with clock.travel(day), django_capture_on_commit_callbacks(execute=True):
            automation_run()
        day += dt.timedelta(days=1)
    return placed


def test_the_mrr_of_march_is_the_hand_computed_figure(seeded):
    [february] = mrr(MARCH.previous())
    assert (february.currency, february.mrr, february.services) == ("USD", Decimal("40.00"), 4)
    [march] = mrr(MARCH)
    assert (march.mrr, march.arr, march.services) == (Decimal("43.00"), Decimal("516.00"), 4)
    assert (march.new, march.expansion, march.contraction, march.churned) == (
        Decimal("10.00"), Decimal("6.00"), Decimal("3.00"), Decimal("10.00"),
    )  # fmt: skip
    assert march.net_change == march.mrr - february.mrr == Decimal("3.00")
    assert Service.objects.get(pk=seeded["C"].pk).status == "terminated"
    assert mrr(MARCH) == [march]  # the same figures when asked again


def test_revenue_by_product_and_receivables_come_from_the_same_invoices(seeded):
    by_product = {row.key: row.amount for row in revenue(MARCH) if row.dimension == "product"}
    # Invoiced in March and not voided: B's order and B's renewal for April (issued 29 March, unpaid), A's
    # renewal, D's and E's renewals at their new prices. C's unpaid renewal was voided when C was terminated.
    assert by_product == {"vps-hkg-premium-2g": Decimal("30.00"), "vps-d": Decimal("16.00"), "vps-e": Decimal("7.00")}
    by_tier = {row.key: row.amount for row in revenue(MARCH) if row.dimension == "tier"}
    assert by_tier == {"premium": Decimal("53.00")}
    # Owed at the end of March: B's renewal only, due after the month's end.
    assert [(r.bucket, r.currency, r.invoices, r.amount) for r in receivables_ageing(MARCH)] == [
        ("not yet due", "USD", 1, Decimal("10.00"))
    ]
    # At the end of February nothing was owed: C's renewal came on 3 March.
    assert receivables_ageing(MARCH.previous()) == []


def _screen_table(html: str, name: str) -> list[list[str]]:
    table = html.split(f'data-testid="report-{name}"', 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>(.*?)</th>", table)
    body = table.split("<tbody>", 1)[1]
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]
    return [header, *rows]


def test_each_csv_is_what_the_screen_shows(seeded):
    client = sign_in_staff(Client(), make_staff("billing@megalayer.test", "billing"))
    page = client.get("/backoffice/reports/?month=2027-03")
    html = page.content.decode()
    assert "MRR, USD, 12 months to 2027-03" in html
    for name in ("mrr", "revenue", "tax", "ageing", "refunds"):
        download = client.get(f"/backoffice/reports/?month=2027-03&csv={name}")
        assert download["Content-Type"] == "text/csv; charset=utf-8"
        assert f"megalayer-{name}-2027-03.csv" in download["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(download.content.decode())))
        screen = _screen_table(html, name)
        if len(rows) == 1:  # no data: the screen says so in one cell
            assert screen[0] == rows[0]
            assert screen[1:] == [[]]
        else:
            assert screen == rows
    assert _screen_table(html, "mrr")[1] == ["USD", "43.00", "516.00", "10.00", "6.00", "3.00", "10.00", "3.00", "4"]
    support = sign_in_staff(Client(), make_staff("support@megalayer.test", "support"))
    assert support.get("/backoffice/reports/?month=2027-03&csv=mrr").status_code == 403
    assert client.get("/backoffice/reports/?month=2027-03&csv=nothing").status_code == 404
    assert "Give the month as YYYY-MM" in client.get("/backoffice/reports/?month=March", follow=True).content.decode()
