"""Back office → Reports in Chromium (issue 20): the seeded March of ``reports/tests`` with its MRR chart and
tables, and a CSV downloaded from the page (screenshot ``test-artifacts/reports.png``)."""

from __future__ import annotations

from playwright.sync_api import expect

from megalayer.portal.tests.test_browser import ARTIFACTS, _sign_in, pytestmark  # noqa: F401 (the marks)
from megalayer.reports.tests.test_reports import seeded  # noqa: F401 (fixture)


def test_the_reports_page_shows_the_month_and_downloads_its_csv(page, live_server, staff, seeded):  # noqa: F811
    _sign_in(page, live_server, staff)
    page.goto(f"{live_server.url}/backoffice/reports/?month=2027-03")
    expect(page.get_by_test_id("report-mrr").locator("tbody tr").first).to_contain_text("43.00")
    expect(page.locator("figure.chart svg rect")).to_have_count(12)
    page.screenshot(path=str(ARTIFACTS / "reports.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("#mrr").get_by_role("link", name="CSV").click()
    saved = download.value.path().read_text()
    assert saved.splitlines()[1] == "USD,43.00,516.00,10.00,6.00,3.00,10.00,3.00,4"
