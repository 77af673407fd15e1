"""Legal orders and exports (issue 7, must-show 5): the export's manifest checksums match its files; staff
without the legal permission get a 404 on legal orders and exports; the order's actions run through the
action layer and are audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from megalayer.abuse.actions.legal import legal_export, legal_order_execute, legal_order_record
from megalayer.abuse.models import LegalExport, LegalHold, LegalOrder
from megalayer.accounts.models import User
from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.conftest import sign_in_staff
from megalayer.core import clock
from megalayer.core.errors import NotFound
from megalayer.network.models import NullRoute
from megalayer.orders.actions import order_place
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 4, 1, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def lawyer(db) -> User:
    user = User.objects.create_user("legal@megalayer.test", "x" * 16, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="legal", content_type__app_label="abuse"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def service(alice, vps, django_capture_on_commit_callbacks) -> Service:
    with_billing(alice)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(alice, "10.00")
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    return Service.objects.get(customer=alice)


def test_an_export_s_manifest_matches_its_files(lawyer, service, django_capture_on_commit_callbacks):
    with clock.travel(T0 + dt.timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        order = legal_order_record(
            staff=lawyer, kind="court", issuer="District Court of Hong Kong", reference="HCMP 1234/2027",
            orders=["provide_data", "preserve", "suspend_ip"], service=service, address="198.18.0.2",
            document=("order.pdf", b"%PDF-1.4 court order"),
        )  # fmt: skip
        export = legal_export(
            order=order, staff=lawyer, reason="Court order HCMP 1234/2027, paragraph 3",
            start=T0 - dt.timedelta(days=1), end=T0 + dt.timedelta(days=2),
        )  # fmt: skip
    payload = export.file.read()
    assert hashlib.sha256(payload).hexdigest() == export.sha256
    archive = zipfile.ZipFile(io.BytesIO(payload))
    manifest = json.loads(archive.read("manifest.json"))
    assert sorted(manifest["files"]) == sorted(n for n in archive.namelist() if n != "manifest.json")
    assert sorted(manifest["files"]) == [
        "account.json", "invoices.json", "ip_history.json", "notices.json", "services.json", "sign_ins.json",
    ]  # fmt: skip
    for name, entry in manifest["files"].items():
        data = archive.read(name)
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
    assert json.loads(archive.read("account.json"))["email"] == "alice@example.com"
    assert [row["address"] for row in json.loads(archive.read("ip_history.json"))] == ["198.18.0.2"]
    assert json.loads(archive.read("services.json"))[0]["public_id"] == service.public_id
    assert manifest["made_by"] == "legal@megalayer.test"
    made = AuditEvent.objects.get(action="legal.export_made")
    assert (made.requirement, made.actor_label, made.data["reason"]) == (
        "TOS-LEGAL-1", "legal@megalayer.test", "Court order HCMP 1234/2027, paragraph 3",
    )  # fmt: skip
    with clock.travel(T0 + dt.timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        legal_order_execute(order=order, staff=lawyer, action="suspend_ip")
        legal_order_execute(order=order, staff=lawyer, action="preserve")
    assert NullRoute.objects.get().requirement == "TOS-LEGAL-1"
    assert LegalHold.objects.get().order_reference == "HCMP 1234/2027"


def test_staff_without_the_legal_permission_get_404(staff, staff_client, lawyer, service):
    with clock.travel(T0 + dt.timedelta(days=1)):
        order = legal_order_record(
            staff=lawyer,
            kind="government",
            issuer="Police",
            reference="2027/77",
            orders=["provide_data"],
            service=service,
        )
        export = legal_export(order=order, staff=lawyer, reason="r", start=T0, end=T0 + dt.timedelta(days=2))
    for url in (
        "/backoffice/legal/orders/",
        f"/backoffice/legal/orders/{order.public_id}/",
        f"/backoffice/legal/exports/{export.public_id}/",
    ):
        assert staff_client.get(url).status_code == 404, url
    assert "Legal orders" not in staff_client.get("/backoffice/").content.decode()
    with pytest.raises(NotFound):
        legal_export(order=order, staff=staff, reason="r", start=T0, end=T0 + dt.timedelta(days=2))
    assert LegalExport.objects.count() == 1
    permitted = Client()
    sign_in_staff(permitted, lawyer)
    assert permitted.get(f"/backoffice/legal/orders/{order.public_id}/").status_code == 200
    download = permitted.get(f"/backoffice/legal/exports/{export.public_id}/")
    assert hashlib.sha256(download.getvalue()).hexdigest() == export.sha256
    from megalayer.conftest import bearer

    assert Client().get("/api/v1/staff/legal-orders", **bearer(staff, staff=True)).status_code == 404
    listed = Client().get("/api/v1/staff/legal-orders", **bearer(lawyer, staff=True)).json()
    assert [o["id"] for o in listed] == [order.public_id]
    assert LegalOrder.objects.count() == 1


def test_legal_orders_through_the_api(staff, lawyer, service):
    from megalayer.conftest import bearer

    body = json.dumps(
        {"kind": "court", "issuer": "Court", "reference": "X-1", "orders": ["preserve"], "service": service.public_id}
    )
    refused = Client().post(
        "/api/v1/staff/legal-orders", body, content_type="application/json", **bearer(staff, staff=True)
    )
    assert refused.status_code == 404
    made = Client().post(
        "/api/v1/staff/legal-orders", body, content_type="application/json", **bearer(lawyer, staff=True)
    )
    assert (made.status_code, made.json()["service"], made.json()["customer"]) == (
        201,
        service.public_id,
        service.customer.public_id,
    )
    bad = Client().post(
        "/api/v1/staff/legal-orders", body.replace('"preserve"', '"dance"'), content_type="application/json",
        **bearer(lawyer, staff=True),
    )  # fmt: skip
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "orders")
    assert LegalOrder.objects.count() == 1


def test_the_order_s_document_is_attached_through_the_api_once_and_never_replaced(staff, lawyer, service):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from megalayer.conftest import bearer

    order = legal_order_record(
        staff=lawyer, kind="government", issuer="OFCA", reference="L/27/9", orders=["preserve"], service=service
    )
    url = f"/api/v1/staff/legal-orders/{order.public_id}/document"
    letter = b"%PDF-1.7 preservation letter"

    def send(user: User, name: str, content: bytes, content_type: str = "application/pdf"):
        upload = SimpleUploadedFile(name, content, content_type=content_type)
        return Client().post(url, {"document": upload}, **bearer(user, staff=True))

    assert send(staff, "letter.pdf", letter).status_code == 404  # no legal permission: nothing to see
    fake = send(lawyer, "letter.pdf", b"<html><script>alert(1)</script>")
    assert (fake.status_code, fake.json()["errors"][0]["field"]) == (422, "document")
    missing = Client().post(url, {}, **bearer(lawyer, staff=True))
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "document")
    order.refresh_from_db()
    assert (order.document.name, order.document_sha256) == ("", "")

    made = send(lawyer, "../../etc/letter.pdf", letter)
    assert made.status_code == 201
    digest = hashlib.sha256(letter).hexdigest()
    assert made.json()["document"] == {"name": "letter.pdf", "sha256": digest, "url": url}
    order.refresh_from_db()
    assert str(order.document.name).endswith(f"{order.public_id}.pdf")
    again = send(lawyer, "other.pdf", b"%PDF-1.7 something else")
    assert (again.status_code, again.json()["type"].rsplit("/", 1)[-1]) == (409, "document-attached")
    order.refresh_from_db()
    assert order.document_sha256 == digest

    download = Client().get(url, **bearer(lawyer, staff=True))
    assert (download.status_code, download["Content-Type"]) == (200, "application/pdf")
    assert download["Content-Disposition"] == 'attachment; filename="letter.pdf"'
    assert download.getvalue() == letter
    assert Client().get(url, **bearer(staff, staff=True)).status_code == 404
    events = AuditEvent.objects.filter(action="legal.document_attached", target_id=order.public_id)
    assert [(e.data["sha256"], e.requirement) for e in events] == [(digest, "TOS-LEGAL-1")]


def test_the_document_is_attached_and_downloaded_in_the_back_office(staff_client, lawyer, service):
    from django.core.files.uploadedfile import SimpleUploadedFile

    order = legal_order_record(
        staff=lawyer, kind="lawyer", issuer="Baker & Co", reference="BC-77", orders=["provide_data"], service=service
    )
    client = Client()
    sign_in_staff(client, lawyer)
    page = f"/backoffice/legal/orders/{order.public_id}/"
    upload = SimpleUploadedFile("letter.png", b"\x89PNG\r\n\x1a\nletterhead", content_type="image/png")
    client.post(page, {"action": "document", "document": upload})
    order.refresh_from_db()
    assert order.document_name == "letter.png"
    assert f"SHA-256 <code>{order.document_sha256}</code>" in client.get(page).content.decode()
    download = client.get(f"/backoffice/legal/orders/{order.public_id}/document/")
    assert download.getvalue() == b"\x89PNG\r\n\x1a\nletterhead"
    assert staff_client.get(f"/backoffice/legal/orders/{order.public_id}/document/").status_code == 404
