"""Issue 14, item 6: a refund above the limit waits for a second staff member with the billing permission."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from megalayer.accounts.models import Approval
from megalayer.audit.models import AuditEvent
from megalayer.billing.models import Refund
from megalayer.billing.tests.conftest import fund, issued_invoice
from megalayer.conftest import bearer, make_staff, sign_in_staff
from megalayer.core.money import Money
from megalayer.ledger.queries import customer_balance

pytestmark = pytest.mark.django_db
REFUND = {"reason": "provider_outage", "destination": "balance", "note": "HKG outage"}


@pytest.fixture
def paid(alice):
    fund(alice, "500.00")
    return issued_invoice(alice, "500.00")


def test_up_to_the_limit_the_refund_is_immediate(staff_client, alice, paid, settings):
    settings.MEGALAYER_REFUND_APPROVAL_ABOVE = {"USD": Money.of("100", "USD").amount}
    staff_client.post(f"/backoffice/billing/invoices/{paid.public_id}/", {"amount": "100.00", "key": "k1", **REFUND})
    assert Refund.objects.get().amount == Money.of("100.00", "USD").amount
    assert not Approval.objects.exists()


def test_above_the_limit_it_waits_and_only_a_second_billing_member_carries_it_out(staff_client, staff, alice, paid):
    page = f"/backoffice/billing/invoices/{paid.public_id}/"
    asked = staff_client.post(page, {"amount": "250.00", "key": "k2", **REFUND}, follow=True)
    assert "Above the limit: refund asked for" in asked.content.decode()
    approval = Approval.objects.get()
    assert (approval.kind, approval.status, approval.requested_by) == ("billing.refund", "pending", staff)
    assert not Refund.objects.exists()
    assert customer_balance(alice, "USD") == Money.of("0.00", "USD")

    # The asker cannot approve; a support member has not the permission; a rejection needs a reason.
    own = staff_client.post(
        "/backoffice/approvals/", {"approval": approval.public_id, "decision": "approve"}, follow=True
    )
    assert "A second staff member must decide" in own.content.decode()
    support = sign_in_staff(Client(), make_staff("support@megalayer.test", "support"))
    refused = support.post(
        "/backoffice/approvals/", {"approval": approval.public_id, "decision": "approve"}, follow=True
    )
    assert "Your roles do not allow deciding this." in refused.content.decode()
    billing = sign_in_staff(Client(), make_staff("billing@megalayer.test", "billing"))
    unexplained = billing.post(
        "/backoffice/approvals/", {"approval": approval.public_id, "decision": "reject"}, follow=True
    )
    assert "Say why it is rejected." in unexplained.content.decode()
    approval.refresh_from_db()
    assert approval.status == "pending"
    assert not Refund.objects.exists()

    billing.post("/backoffice/approvals/", {"approval": approval.public_id, "decision": "approve"})
    approval.refresh_from_db()
    refund = Refund.objects.get()
    assert (approval.status, approval.result, refund.created_by) == ("approved", refund.public_id, staff)
    assert customer_balance(alice, "USD") == Money.of("250.00", "USD")
    event = AuditEvent.objects.get(action="approval.approved")
    assert (event.data["requested_by"], event.data["decided_by"]) == (staff.email, "billing@megalayer.test")
    assert event.requirement == "TOS-REFUND-1"
    # Decided once: a second approval does nothing more.
    again = billing.post("/backoffice/approvals/", {"approval": approval.public_id, "decision": "approve"}, follow=True)
    assert "decided already" in again.content.decode()
    assert Refund.objects.count() == 1


def test_an_approved_refund_the_rules_refuse_stays_pending_with_nothing_done(staff, alice, paid):
    from megalayer.accounts.actions.approvals import approval_decide
    from megalayer.billing.approvals import refund_request
    from megalayer.core.errors import DomainError

    asked = refund_request(
        invoice=paid, amount=Money.of("600.00", "USD"), staff=staff, idempotency_key="k3", **REFUND
    )  # more than was paid
    assert isinstance(asked, Approval)
    with pytest.raises(DomainError):
        approval_decide(approval=asked, staff=make_staff("billing@megalayer.test", "billing"), approve=True)
    asked.refresh_from_db()
    assert asked.status == "pending"
    assert not Refund.objects.exists()
    assert not AuditEvent.objects.filter(action="approval.approved").exists()


def test_through_the_staff_api_a_large_refund_answers_202_and_waits(staff, alice, paid):
    body = json.dumps({"invoice": paid.public_id, "amount": {"amount": "300.00", "currency": "USD"}, **REFUND})
    asked = Client().post("/api/v1/staff/refunds", body, content_type="application/json", **bearer(staff, staff=True))
    assert asked.status_code == 202
    assert (asked.json()["kind"], asked.json()["status"]) == ("billing.refund", "pending")
    assert not Refund.objects.exists()
    listed = Client().get("/api/v1/staff/approvals", **bearer(staff, staff=True)).json()
    assert [a["id"] for a in listed] == [asked.json()["id"]]
    second = bearer(make_staff("billing@megalayer.test", "billing"), staff=True)
    rejected = Client().post(
        f"/api/v1/staff/approvals/{asked.json()['id']}/reject", json.dumps({"note": "not our fault"}),
        content_type="application/json", **second,
    )  # fmt: skip
    assert (rejected.status_code, rejected.json()["status"], rejected.json()["note"]) == (
        200,
        "rejected",
        "not our fault",
    )
    assert not Refund.objects.exists()
