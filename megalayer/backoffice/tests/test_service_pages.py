import datetime as dt
from decimal import Decimal

import pytest

from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.catalog.models import PriceVersion
from megalayer.conftest import open_case
from megalayer.core import clock
from megalayer.orders.actions import order_place
from megalayer.orders.models import Order
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(alice, vps, django_capture_on_commit_callbacks):
    with_billing(alice)
    fund(alice, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    return Service.objects.get(customer=alice)


def test_dashboard_draws_the_charts(staff_client, service):
    page = staff_client.get("/backoffice/").content.decode()
    for title in ("Services by status", "Revenue by month", "Renewals due, next 30 days", "Deletions due if unpaid"):
        assert title in page
    assert '<rect x="' in page


def test_staff_suspend_and_terminate_with_a_reason_from_the_service_page(
    staff_client, service, django_capture_on_commit_callbacks
):
    url = f"/backoffice/services/{service.public_id}/"
    form = {"action": "suspend", "reason": "abuse", "requirement": "TOS-ABUSE-2", "note": "phishing, case 7"}
    refused = staff_client.post(url, form)
    assert "names its abuse case" in refused.content.decode()
    assert staff_client.post(url, {**form, "case": "abc_nosuch"}).status_code == 200
    unknown_clause = staff_client.post(url, {**form, "requirement": "TOS-MADEUP-9"})
    assert "Select a valid choice" in unknown_clause.content.decode()
    service.refresh_from_db()
    assert service.status == "active"
    case = open_case(service, "phishing")
    form["case"] = case.public_id
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(url, form).status_code == 302
    service.refresh_from_db()
    assert (service.status, service.reason) == ("suspended", "abuse")
    again = staff_client.post(url, form)
    assert "cannot move from" in again.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {**form, "action": "terminate", "requirement": "TOS-VIOLATION-1", "reason": "violation"})
    service.refresh_from_db()
    assert (service.status, service.reason) == ("terminated", "violation")
    assert AuditEvent.objects.filter(target_id=service.public_id, requirement="TOS-VIOLATION-1").count() == 2
    linked = AuditEvent.objects.filter(target_id=case.public_id).order_by("id")
    assert [(e.action, e.data["service"]) for e in linked] == [
        ("abuse.service_suspend", service.public_id),
        ("abuse.service_terminate", service.public_id),
    ]
    page = staff_client.get(url).content.decode()
    assert "phishing, case 7" in page


def test_review_queue_approves_and_rejects(staff_client, alice, bob, vps, settings, django_capture_on_commit_callbacks):
    from megalayer.accounts.models import User

    for customer, address in ((alice, "a@mailinator.com"), (bob, "b@yopmail.com")):
        User.objects.filter(pk=customer.owner.pk).update(email=address)
        customer.refresh_from_db()
        with_billing(customer)
        fund(customer, "10.00")
    from megalayer.terms.actions import terms_publish
    from megalayer.terms.policy import default_policy_data

    policy = default_policy_data()
    policy["orders"]["fraud_review_threshold"] = 40
    terms_publish(
        body="v2",
        summary="threshold",
        update_date=dt.date(2027, 1, 1),
        effective_at=clock.now(),
        policy=policy,
        actor=Actor.system("t"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
        second = order_place(customer=bob, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    page = staff_client.get("/backoffice/orders/review/").content.decode()
    assert first.public_id in page
    assert second.public_id in page
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/backoffice/orders/review/", {"order": first.public_id, "decision": "approve"})
        staff_client.post("/backoffice/orders/review/", {"order": second.public_id, "decision": "reject", "note": "no"})
    assert Order.objects.get(pk=first.pk).service is not None
    assert Order.objects.get(pk=second.pk).status == "rejected"


def test_new_price_version_applies_from_its_time(staff_client, vps):
    start = (clock.now() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = staff_client.post(
        f"/backoffice/products/{vps.code}/", {"cycle": "monthly", "amount": "12.00", "effective_at": start}
    )
    assert response.status_code == 302
    assert PriceVersion.objects.filter(product=vps, amount=Decimal("12.00")).exists()
    past = staff_client.post(
        f"/backoffice/products/{vps.code}/", {"cycle": "monthly", "amount": "1.00", "effective_at": "2020-01-01T00:00"}
    )
    assert "cannot start in the past" in past.content.decode()
    assert not PriceVersion.objects.filter(product=vps, amount=Decimal("1.00")).exists()


def test_price_migration_from_the_product_page(staff_client, service, vps):
    response = staff_client.post(
        f"/backoffice/products/{vps.code}/",
        {"migrate": "1", "cycle": "monthly", "amount": "11.00", "note": "Costs rose."},
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.recurring_amount == Decimal("11.00")


def test_coupons_are_created_and_validated(staff_client):
    from megalayer.catalog.models import Coupon

    staff_client.post(
        "/backoffice/coupons/", {"code": "spring-25", "kind": "percent", "value": "25", "duration": "first_term"}
    )
    assert Coupon.objects.get(code="SPRING-25").value == Decimal("25.00")
    bad = staff_client.post(
        "/backoffice/coupons/", {"code": "HUGE", "kind": "percent", "value": "150", "duration": "first_term"}
    )
    assert "between 0 and 100" in bad.content.decode()
    dup = staff_client.post(
        "/backoffice/coupons/", {"code": "SPRING-25", "kind": "fixed", "value": "5", "duration": "recurring"}
    )
    assert "exists" in dup.content.decode()
    assert Coupon.objects.count() == 1
