import datetime as dt

import pytest

from megalayer.audit.models import AuditEvent
from megalayer.conftest import make_customer
from megalayer.core import clock
from megalayer.terms.models import TermsVersion
from megalayer.terms.policy import default_policy_data

pytestmark = pytest.mark.django_db


def test_customers_are_searchable_and_paged(staff_client, terms_v1):
    for index in range(30):
        make_customer(f"user{index:02d}@example.com", terms_v1)
    page1 = staff_client.get("/backoffice/customers/").content.decode()
    assert "Page 1 of 2 · 30 in all" in page1
    found = staff_client.get("/backoffice/customers/?q=user07").content.decode()
    assert "user07@example.com" in found
    assert "user08@example.com" not in found


def test_customer_detail_shows_acceptances_and_unknown_is_404(staff_client, alice):
    page = staff_client.get(f"/backoffice/customers/{alice.public_id}/").content.decode()
    assert "alice@example.com" in page
    assert "At sign-up" in page
    assert staff_client.get("/backoffice/customers/cus_nope/").status_code == 404


def _form(**overrides: str) -> dict[str, str]:
    import json

    effective = (clock.now() + dt.timedelta(days=14)).strftime("%Y-%m-%dT%H:%M")
    data = {
        "body": "Megalayer Terms of Service\n\nService Term\n\nNew sentence.\n",
        "summary": "A new sentence.",
        "update_date": "2026-12-10",
        "effective_at": effective,
        "policy": json.dumps(default_policy_data()),
    }
    data.update(overrides)
    return data


def test_terms_preview_shows_the_diff_and_publishes_nothing(staff_client, terms_v1):
    page = staff_client.post("/backoffice/terms/publish/", {**_form(), "preview": "1"}).content.decode()
    assert "+ New sentence." in page
    assert TermsVersion.objects.count() == 1


def test_terms_publish_creates_version_and_audit_event(staff_client, staff, terms_v1):
    response = staff_client.post("/backoffice/terms/publish/", {**_form(), "publish": "1"})
    assert response.status_code == 302
    version = TermsVersion.objects.get(number=2)
    assert version.published_by == staff
    event = AuditEvent.objects.get(action="terms.publish", target_id="2")
    assert (event.actor_kind, event.actor_label) == ("staff", "staff@megalayer.test")


def test_invalid_policy_json_is_a_form_error(staff_client, terms_v1):
    page = staff_client.post(
        "/backoffice/terms/publish/", {**_form(policy='{"reinstall": {"fee": 5}}'), "publish": "1"}
    )
    assert page.status_code == 200
    assert "reinstall.fee" in page.content.decode()
    assert TermsVersion.objects.count() == 1


def test_audit_log_filters_and_verifies(staff_client, terms_v1):
    page = staff_client.get("/backoffice/audit/?requirement=TOS-ACCEPT-2").content.decode()
    assert "terms.publish" in page
    assert "terms.publish" not in staff_client.get("/backoffice/audit/?requirement=TOS-EXPIRE-1").content.decode()
    verified = staff_client.post("/backoffice/audit/").content.decode()
    assert "Chain intact: 1 events verified." in verified


def test_customers_cannot_reach_the_back_office(alice_client):
    for path in ("/backoffice/", "/backoffice/customers/", "/backoffice/terms/publish/", "/backoffice/audit/"):
        assert alice_client.get(path).status_code == 302
    assert alice_client.post("/backoffice/terms/publish/", _form()).status_code == 302
    assert TermsVersion.objects.count() == 1
