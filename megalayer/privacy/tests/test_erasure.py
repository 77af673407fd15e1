"""Account deletion (TOS-PRIVACY-1) and the legal hold that stops it (TOS-HOLD-1, issue 7 must-show 3:
"privacy erasure stops at a hold and records that it did")."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.core.files.storage import default_storage

from megalayer.abuse.actions.holds import legal_hold_place, legal_hold_release
from megalayer.accounts.models import ApiToken, BillingProfile, Contact, Customer, User
from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.models import Invoice
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.ledger.models import Posting
from megalayer.network.models import IpAssignment
from megalayer.notices.models import Notice
from megalayer.privacy.actions import erasure_cancel, erasure_request, erasures_run_due
from megalayer.privacy.models import ErasureRequest
from megalayer.privacy.tests.conftest import T0, rich_customer
from megalayer.support.models import Attachment, Ticket, TicketMessage
from megalayer.terms.models import TermsAcceptance
from megalayer.testing_parallel import run_in_parallel, skip_unless_threads_share_the_database

pytestmark = pytest.mark.django_db
ASKED = T0 + dt.timedelta(days=3)
GRACE_OVER = ASKED + dt.timedelta(days=14, minutes=1)


def _ask(customer: Customer, capture, **kwargs) -> ErasureRequest:
    with clock.travel(ASKED), capture(execute=True):
        return erasure_request(
            customer=customer, actor=Actor.for_user(customer.owner), requested_by=customer.owner.email, **kwargs
        )


def _run(at: dt.datetime, capture) -> dict[str, int]:
    with clock.travel(at), capture(execute=True):
        return erasures_run_due()


def test_deleting_an_account_closes_it_at_once_and_erases_after_the_grace_period(
    rich_alice, django_capture_on_commit_callbacks
):
    alice = rich_alice
    user = alice.owner
    attachment = Attachment.objects.get(message__ticket__customer=alice)
    stored = str(attachment.file.name)
    assert default_storage.exists(stored)
    invoices = list(Invoice.objects.filter(customer=alice).values_list("number", "total", "bill_to"))
    postings = Posting.objects.filter(account__customer=alice).count()
    assert invoices
    assert postings

    request = _ask(alice, django_capture_on_commit_callbacks)
    user.refresh_from_db()
    alice.refresh_from_db()
    assert (request.status, request.erase_after) == ("scheduled", ASKED + dt.timedelta(days=14))
    assert (alice.status, user.is_active) == ("closed", False)
    assert not ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    notice = Notice.objects.get(customer=alice, kind="account_deletion")
    assert (notice.status, notice.recipient) == ("sent", "alice@example.com")
    assert "erase your personal data" in notice.body_text
    assert "27 January 2027, 10:00 UTC" in notice.body_text
    assert AuditEvent.objects.filter(action="privacy.erasure_requested", target_id=alice.public_id).count() == 1

    # Asking again is the same request; before the grace period ends nothing is erased.
    assert _ask(alice, django_capture_on_commit_callbacks) == request
    assert _run(GRACE_OVER - dt.timedelta(minutes=2), django_capture_on_commit_callbacks) == {
        "erased": 0, "held": 0, "waiting": 0,
    }  # fmt: skip
    user.refresh_from_db()
    assert user.email == "alice@example.com"

    assert _run(GRACE_OVER, django_capture_on_commit_callbacks) == {"erased": 1, "held": 0, "waiting": 0}
    user.refresh_from_db()
    alice.refresh_from_db()
    request.refresh_from_db()
    assert (user.email, user.full_name, user.is_active, user.has_usable_password()) == (
        f"erased-{alice.public_id}@erased.invalid", "", False, False,
    )  # fmt: skip
    assert (alice.erased_at, alice.signup_ip, alice.status) == (GRACE_OVER, None, "closed")
    assert not BillingProfile.objects.filter(customer=alice).exists()
    assert not Contact.objects.filter(customer=alice).exists()
    assert not ApiToken.objects.filter(user=user).exists()
    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    assert not default_storage.exists(stored)
    assert list(Ticket.objects.filter(customer=alice).values_list("subject", flat=True)) == ["[erased]"]
    assert set(TicketMessage.objects.filter(ticket__customer=alice).values_list("body", flat=True)) == {"[erased]"}
    assert set(Notice.objects.filter(customer=alice).values_list("recipient", "subject")) == {
        (f"erased-{alice.public_id}@erased.invalid", "[erased]")
    }
    assert not Notice.objects.filter(body_text__contains="Alice").exists()
    assert set(TermsAcceptance.objects.filter(user=user).values_list("ip_address", "user_agent")) == {(None, "")}
    # Kept: the financial records as they were, and the address history complaints are matched against.
    assert list(Invoice.objects.filter(customer=alice).values_list("number", "total", "bill_to")) == invoices
    assert Posting.objects.filter(account__customer=alice).count() == postings
    assert IpAssignment.objects.filter(customer=alice).count() == 1
    assert (request.status, request.completed_at) == ("erased", GRACE_OVER)
    assert request.summary["kept"]["invoices"][0] == len(invoices)
    assert request.summary["erased"]["ticket_attachments"] == 1
    event = AuditEvent.objects.get(action="privacy.erased", target_id=alice.public_id)
    assert (event.requirement, event.data["request"]) == ("TOS-PRIVACY-1", request.public_id)
    assert "alice@example.com" not in str(event.data)

    # Nothing twice: a second run finds nothing to do.
    assert _run(GRACE_OVER + dt.timedelta(hours=1), django_capture_on_commit_callbacks)["erased"] == 0
    assert AuditEvent.objects.filter(action="privacy.erased").count() == 1


def test_a_legal_hold_stops_the_erasure_and_it_runs_after_release(
    rich_alice, staff, django_capture_on_commit_callbacks
):
    alice = rich_alice
    held_address = IpAssignment.objects.get(customer=alice).address  # released when the VPS ended
    with clock.travel(T0 + dt.timedelta(days=2, hours=1)), django_capture_on_commit_callbacks(execute=True):
        hold = legal_hold_place(staff=staff, address=held_address, reason="Court order 7 O 11/27: preserve")
    assert hold.evidence["records"]["customers"] == [alice.public_id]  # whoever held the address
    request = _ask(alice, django_capture_on_commit_callbacks)
    assert request.status == "scheduled"  # the customer is not told of the hold

    for hours in (0, 1, 24):
        assert _run(GRACE_OVER + dt.timedelta(hours=hours), django_capture_on_commit_callbacks) == {
            "erased": 0, "held": 1, "waiting": 0,
        }  # fmt: skip
    request.refresh_from_db()
    alice.owner.refresh_from_db()
    assert (request.status, request.held_by, alice.owner.email) == ("scheduled", hold.public_id, "alice@example.com")
    assert BillingProfile.objects.filter(customer=alice).exists()
    held = AuditEvent.objects.filter(action="privacy.erasure_held", target_id=alice.public_id)
    assert [(e.requirement, e.data["hold"]) for e in held] == [("TOS-HOLD-1", hold.public_id)]  # once, not per run

    with clock.travel(GRACE_OVER + dt.timedelta(days=2)):
        legal_hold_release(hold=hold, staff=staff, note="case closed")
    assert _run(GRACE_OVER + dt.timedelta(days=2, hours=1), django_capture_on_commit_callbacks)["erased"] == 1
    request.refresh_from_db()
    assert (request.status, request.held_by) == ("erased", hold.public_id)
    assert AuditEvent.objects.get(action="privacy.erased").data["after_hold"] == hold.public_id
    assert request.summary["kept"]["legal_hold_snapshots"][0] == 1


def test_a_hold_on_the_customer_stops_it_too(rich_alice, staff, django_capture_on_commit_callbacks):
    request = _ask(rich_alice, django_capture_on_commit_callbacks)
    with clock.travel(ASKED + dt.timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        hold = legal_hold_place(
            staff=staff, customer=rich_alice, reason="fraud inquiry", ends_at=GRACE_OVER + dt.timedelta(days=5)
        )
    assert _run(GRACE_OVER, django_capture_on_commit_callbacks)["held"] == 1
    # The hold ends by its date: the next run erases.
    assert _run(GRACE_OVER + dt.timedelta(days=5, minutes=1), django_capture_on_commit_callbacks)["erased"] == 1
    request.refresh_from_db()
    assert (request.status, request.held_by) == ("erased", hold.public_id)


def test_deletion_is_refused_while_a_service_runs_and_nothing_changes(alice, vps, django_capture_on_commit_callbacks):
    service = rich_customer(alice, vps, django_capture_on_commit_callbacks, terminate=False)
    with pytest.raises(RuleRefused) as refused:
        _ask(alice, django_capture_on_commit_callbacks)
    assert refused.value.type_slug == "erasure-blocked"
    assert f"Service {service.public_id}" in refused.value.detail
    alice.refresh_from_db()
    alice.owner.refresh_from_db()
    assert (alice.status, alice.owner.is_active) == ("active", True)
    assert not ErasureRequest.objects.exists()
    assert not Notice.objects.filter(kind="account_deletion").exists()
    assert ApiToken.objects.filter(user=alice.owner, revoked_at__isnull=True).count() == 1


def test_a_balance_left_is_given_up_only_when_the_customer_says_so(rich_alice, django_capture_on_commit_callbacks):
    with clock.travel(ASKED - dt.timedelta(hours=1)):
        fund(rich_alice, "2.00")  # cannot be paid out (TOS-BAL-1): deleting the account gives it up
    with pytest.raises(InvalidInput) as refused:
        _ask(rich_alice, django_capture_on_commit_callbacks)
    assert refused.value.field == "acknowledge_balance"
    assert not ErasureRequest.objects.exists()
    rich_alice.refresh_from_db()
    assert rich_alice.status == "active"
    assert _ask(rich_alice, django_capture_on_commit_callbacks, balance_acknowledged=True).status == "scheduled"


def test_the_erasure_waits_for_a_notice_still_in_the_outbox(rich_alice, django_capture_on_commit_callbacks):
    request = _ask(rich_alice, django_capture_on_commit_callbacks)
    Notice.objects.filter(customer=rich_alice, kind="account_deletion").update(status="queued")
    assert _run(GRACE_OVER, django_capture_on_commit_callbacks) == {"erased": 0, "held": 0, "waiting": 1}
    request.refresh_from_db()
    assert request.waiting_for == "1 notice(s) still being delivered."
    Notice.objects.filter(customer=rich_alice, kind="account_deletion").update(status="sent")
    assert _run(GRACE_OVER + dt.timedelta(hours=1), django_capture_on_commit_callbacks)["erased"] == 1


def test_staff_cancel_a_scheduled_deletion_and_sign_in_returns(rich_alice, staff, django_capture_on_commit_callbacks):
    request = _ask(rich_alice, django_capture_on_commit_callbacks)
    with pytest.raises(InvalidInput):
        erasure_cancel(request=request, staff=staff, note=" ")
    with clock.travel(ASKED + dt.timedelta(days=1)):
        erasure_cancel(request=request, staff=staff, note="customer wrote: sent by mistake")
    rich_alice.refresh_from_db()
    assert (rich_alice.status, User.objects.get(pk=rich_alice.owner_id).is_active) == ("active", True)
    assert _run(GRACE_OVER, django_capture_on_commit_callbacks)["erased"] == 0
    assert ErasureRequest.objects.get().status == "cancelled"
    assert AuditEvent.objects.filter(action="privacy.erasure_cancelled").count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_erase_an_account_once(alice, vps):
    skip_unless_threads_share_the_database()
    rich_customer(alice, vps, lambda execute: contextlib.nullcontext())
    with clock.travel(ASKED):
        request = erasure_request(customer=alice, actor=Actor.system("t"), requested_by="t")
    Notice.objects.filter(customer=alice).update(status="sent")

    def run() -> dict[str, int]:
        with clock.travel(GRACE_OVER):
            return erasures_run_due()

    results = run_in_parallel([run, run])
    assert sorted(r["erased"] for r in results if isinstance(r, dict)) == [0, 1], results
    request.refresh_from_db()
    assert request.status == "erased"
    assert AuditEvent.objects.filter(action="privacy.erased").count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_four_clicks_at_once_make_one_deletion(alice, vps):
    skip_unless_threads_share_the_database()
    rich_customer(alice, vps, lambda execute: contextlib.nullcontext())

    def ask() -> str:
        customer = Customer.objects.get(pk=alice.pk)
        with clock.travel(ASKED):
            return erasure_request(customer=customer, actor=Actor.system("t"), requested_by="t").public_id

    results = run_in_parallel([ask, ask, ask, ask])
    assert all(isinstance(r, str) for r in results), results
    assert set(results) == {ErasureRequest.objects.get().public_id}
    assert Notice.objects.filter(kind="account_deletion").count() == 1
    assert AuditEvent.objects.filter(action="privacy.erasure_requested").count() == 1
