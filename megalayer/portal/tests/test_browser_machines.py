"""The back office's machines page in Chromium (issue 19): a rack pasted as CSV, a machine taken out for
maintenance, and the page as an operator sees it (screenshot ``test-artifacts/machines.png``)."""

from __future__ import annotations

from playwright.sync_api import expect

from megalayer.catalog.models import HardwareProfile
from megalayer.conftest import redfish_host
from megalayer.portal.tests.test_browser import ARTIFACTS, _sign_in, pytestmark  # noqa: F401 (the marks)
from megalayer.provisioning.models import Machine

CSV = "name,host,profile,rack,position,serial,macs,bmc_url,bmc_username,bmc_password\n" + "".join(
    f"hkg-a1-{n:02d},hkg-rack-a,e3-32g,A1,U{n:02d},SN-48{n:02d},52:54:00:aa:00:{n:02x},"
    f"https://10.20.0.{n},operator,Bmc-Secret-{n}\n"
    for n in range(1, 7)
)


def test_a_rack_is_imported_and_a_machine_taken_out_on_the_machines_page(page, live_server, staff, vps):
    HardwareProfile.objects.create(
        code="e3-32g", name="Xeon E3-1230, 32 GB", cpu_cores=4, memory_gb=32, disks="2 × 480 GB SSD"
    )
    redfish_host(vps.location, {"installer_url": "https://boot.example.net/installers/{image}.iso"})
    _sign_in(page, live_server, staff)
    page.goto(f"{live_server.url}/backoffice/machines/")
    page.get_by_role("link", name="Machines").first.wait_for()
    page.fill("textarea[name=csv]", CSV)
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".messages")).to_contain_text("6 machine(s) registered.")
    rows = page.get_by_test_id("machines").locator("tbody tr")
    expect(rows).to_have_count(6)
    assert "Bmc-Secret" not in page.content()
    assert "10.20.0." not in page.content()

    page.get_by_label("Note for hkg-a1-03").fill("PSU fan noisy")
    page.get_by_label("New state for hkg-a1-03").select_option("maintenance")
    rows.nth(2).get_by_role("button", name="Set").click()
    expect(page.locator(".messages")).to_contain_text("hkg-a1-03 is now maintenance.")
    assert Machine.objects.get(name="hkg-a1-03").state == "maintenance"
    page.goto(f"{live_server.url}/backoffice/machines/?state=maintenance")
    expect(page.get_by_test_id("machines").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("machines")).to_contain_text("PSU fan noisy")
    page.goto(f"{live_server.url}/backoffice/machines/")
    page.screenshot(path=str(ARTIFACTS / "machines.png"), full_page=True)
