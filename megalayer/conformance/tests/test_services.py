"""Services and orders, end to end (requirements.md, "Services and orders")."""

import pytest

from megalayer.conformance.tests.steps import audit, customer_api, portal, running_service

pytestmark = pytest.mark.django_db
OFFERED = {
    "debian-12",
    "debian-11",
    "ubuntu-24-04",
    "ubuntu-22-04",
    "almalinux-9",
    "rocky-9",
    "centos-stream-9",
    "centos-stream-10",
    "windows-2025",
    "windows-2022",
    "windows-2019",
}


def test_tos_os_1(alice, vps, staff, staff_client, django_capture_on_commit_callbacks):
    """The catalog offers Debian, Ubuntu, CentOS Stream, AlmaLinux, Rocky and Windows Server (self-activation
    required); staff choose the images a product runs; end-of-life images are not offered for new orders."""
    running_service(alice, vps, django_capture_on_commit_callbacks, funds="20.00")
    api = customer_api(alice)
    images = {i["code"]: i for i in api.get("/catalog/os-images").json()}
    assert set(images) == OFFERED
    assert {c for c, i in images.items() if i["self_activation_required"]} == {
        "windows-2025",
        "windows-2022",
        "windows-2019",
    }
    assert "centos-7" not in images  # end of life: stays on servers that run it, offered to nobody

    url = f"/backoffice/products/{vps.code}/"
    chosen = {"images_form": "1", "images": ["debian-12", "windows-2022", "centos-7"]}
    assert staff_client.post(url, chosen).status_code == 302
    [product] = api.get("/catalog/products").json()
    assert product["os_images"] == ["debian-12", "windows-2022"]
    [event] = audit("catalog.product_images", vps.code)
    assert (event.requirement, event.data["after"]) == ("TOS-OS-1", ["centos-7", "debian-12", "windows-2022"])
    nothing = staff_client.post(url, {"images_form": "1"}, follow=True).content.decode()
    assert "Choose at least one image" in nothing
    assert api.get("/catalog/products").json()[0]["os_images"] == ["debian-12", "windows-2022"]

    eol = api.post("/orders", {"product": vps.code, "os_image": "centos-7"})
    unlisted = api.post("/orders", {"product": vps.code, "os_image": "rocky-9"})
    assert [(r.status_code, r.json()["errors"][0]["field"]) for r in (eol, unlisted)] == [(422, "os_image")] * 2
    with django_capture_on_commit_callbacks(execute=True):
        windows = api.post("/orders", {"product": vps.code, "os_image": "windows-2022"})
    assert windows.status_code == 201
    page = portal(alice).get(f"/account/services/{windows.json()['service']}/").content.decode()
    assert "Windows Server 2022 (self-activation required)" in page
