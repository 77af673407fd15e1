"""Affiliates: a link brings a sign-up; commissions accrue on what the referred customer buys and are
credited after the holding period, once (TOS-AFF-1); self-referral signs hold them for staff, who judge
them genuine or clear the affiliate's data (TOS-AFF-2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from megalayer.accounts.models import Customer
from megalayer.affiliates.actions import (
    REFERRAL_COOKIE,
    affiliate_clear,
    affiliate_code_for,
    commissions_run,
    referral_record,
    referral_review,
)
from megalayer.affiliates.models import Commission, Referral
from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.core.money import Money
from megalayer.ledger.queries import customer_balance
from megalayer.notices.models import Notice
from megalayer.orders.actions import order_place
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 5, 3, 9, 0, tzinfo=dt.UTC)


def _buy(customer: Customer, vps, capture, at: dt.datetime = T0) -> None:
    with_billing(customer)
    with clock.travel(at), capture(execute=True):
        fund(customer, "10.00")
        order_place(customer=customer, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))


def _run(at: dt.datetime) -> dict[str, int]:
    with clock.travel(at):
        return commissions_run()


def _refer(referrer: Customer, referred: Customer, *, other_address: bool = True) -> Referral:
    if other_address:  # the fixtures sign everyone up from one address: a self-referral sign
        Customer.objects.filter(pk=referred.pk).update(signup_ip="198.51.100.77")
        referred.refresh_from_db()
    with clock.travel(T0 - dt.timedelta(days=1)):
        referral = referral_record(referred=referred, code=affiliate_code_for(referrer).code)
    assert referral is not None
    return referral


def test_the_link_leaves_a_cookie_that_the_sign_up_turns_into_a_referral(alice, terms_v1):
    code = affiliate_code_for(alice).code
    assert affiliate_code_for(alice).code == code  # one code per customer
    visitor = Client()
    assert visitor.get("/r/not-a-code/").cookies.get(REFERRAL_COOKIE) is None
    landing = visitor.get(f"/r/{code.upper()}/")
    assert (landing.status_code, landing["Location"]) == (302, "/auth/signup/")
    assert visitor.cookies[REFERRAL_COOKIE]["max-age"] == 30 * 86400
    visitor.post(
        "/auth/signup/",
        {
            "email": "carol@example.net", "full_name": "Carol Chan", "password1": "a long enough passphrase 42",
            "password2": "a long enough passphrase 42", "terms_version": terms_v1.number, "accept_terms": "on",
        },
    )  # fmt: skip
    referral = Referral.objects.get()
    assert (referral.referrer, referral.referred.owner.email, referral.code) == (alice, "carol@example.net", code)
    # A forged cookie (not signed by us) refers nobody.
    forged = Client()
    forged.cookies[REFERRAL_COOKIE] = code
    forged.post(
        "/auth/signup/",
        {
            "email": "dave@example.net", "full_name": "Dave", "password1": "a long enough passphrase 42",
            "password2": "a long enough passphrase 42", "terms_version": terms_v1.number, "accept_terms": "on",
        },
    )  # fmt: skip
    assert Customer.objects.filter(owner__email="dave@example.net").exists()
    assert Referral.objects.count() == 1


def test_own_code_and_a_second_referrer_refer_nobody(alice, bob):
    assert referral_record(referred=alice, code=affiliate_code_for(alice).code) is None
    assert referral_record(referred=bob, code=affiliate_code_for(alice).code) is not None
    carol_code = affiliate_code_for(Customer.objects.get(pk=alice.pk)).code
    assert referral_record(referred=bob, code=carol_code) is None  # already referred
    assert Referral.objects.count() == 1


def test_a_commission_is_credited_once_after_the_holding_period(alice, bob, vps, django_capture_on_commit_callbacks):
    referral = _refer(alice, bob)
    assert referral.signals == []
    _buy(bob, vps, django_capture_on_commit_callbacks)
    assert _run(T0 + dt.timedelta(hours=1)) == {"accrued": 1, "credited": 0, "voided": 0, "waiting": 0}
    commission = Commission.objects.get()
    assert (commission.rate, commission.base, commission.amount, commission.status) == (
        Decimal("10.00"), Decimal("10.0000"), Decimal("1.0000"), "holding",
    )  # fmt: skip
    assert commission.available_at == T0 + dt.timedelta(days=30)
    assert customer_balance(alice, "USD") == Money.of("0", "USD")
    assert _run(T0 + dt.timedelta(days=29)) == {"accrued": 0, "credited": 0, "voided": 0, "waiting": 0}
    assert _run(T0 + dt.timedelta(days=30, minutes=1)) == {"accrued": 0, "credited": 1, "voided": 0, "waiting": 0}
    assert _run(T0 + dt.timedelta(days=31)) == {"accrued": 0, "credited": 0, "voided": 0, "waiting": 0}
    commission.refresh_from_db()
    assert (commission.status, commission.released_at) == ("available", T0 + dt.timedelta(days=30, minutes=1))
    assert customer_balance(alice, "USD") == Money.of("1.00", "USD")
    event = AuditEvent.objects.get(action="affiliate.commission_credited")
    assert (event.target_id, event.requirement, event.data["amount"]) == (alice.public_id, "TOS-AFF-1", "1.00")
    page = Client()
    page.force_login(alice.owner)
    html = page.get("/account/affiliate/").content.decode()
    assert "b***@example.com" in html
    assert "bob@example.com" not in html
    assert f"/r/{referral.code}/" in html


def test_a_self_referral_sign_holds_the_commission_until_staff_judge_it(
    alice, bob, staff, vps, django_capture_on_commit_callbacks
):
    referral = _refer(alice, bob, other_address=False)
    assert referral.signals == ["same sign-in address"]
    _buy(bob, vps, django_capture_on_commit_callbacks)
    assert _run(T0 + dt.timedelta(days=31))["waiting"] == 1
    commission = Commission.objects.get()
    assert (commission.status, commission.note) == ("holding", "waits for staff: same sign-in address")
    assert customer_balance(alice, "USD") == Money.of("0", "USD")
    with pytest.raises(InvalidInput):
        referral_review(referral=referral, staff=staff, note="")
    referral_review(referral=referral, staff=staff, note="flatmates; separate cards and names")
    assert _run(T0 + dt.timedelta(days=31, hours=1))["credited"] == 1
    assert customer_balance(alice, "USD") == Money.of("1.00", "USD")


def test_clearing_an_affiliate_drops_referrals_and_unpaid_commissions_only(
    alice, bob, staff, vps, django_capture_on_commit_callbacks
):
    _refer(alice, bob)
    _buy(bob, vps, django_capture_on_commit_callbacks)
    _run(T0 + dt.timedelta(days=31))  # the first month's commission is credited
    with clock.travel(T0 + dt.timedelta(days=32)), django_capture_on_commit_callbacks(execute=True):
        fund(bob, "10.00")
        from megalayer.services.actions import service_renew_now
        from megalayer.services.models import Service

        service_renew_now(service=Service.objects.get(customer=bob), actor=Actor.for_user(bob.owner))
    assert _run(T0 + dt.timedelta(days=32, hours=1))["accrued"] == 1
    with pytest.raises(InvalidInput):
        affiliate_clear(referrer=alice, staff=staff, reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        assert affiliate_clear(referrer=alice, staff=staff, reason="same person: card and address") == {
            "referrals": 1, "commissions": 1,
        }  # fmt: skip
    assert sorted(Commission.objects.values_list("status", flat=True)) == ["available", "cleared"]
    assert customer_balance(alice, "USD") == Money.of("1.00", "USD")  # credited money is not taken back
    assert Referral.objects.get().status == "cleared"
    event = AuditEvent.objects.get(action="affiliate.cleared")
    assert (event.requirement, event.data["reason"]) == ("TOS-AFF-2", "same person: card and address")
    assert Notice.objects.get(kind="affiliate_cleared").customer == alice
    # Nothing accrues on a cleared referral, and nothing is credited later.
    _buy(bob, vps, django_capture_on_commit_callbacks, at=T0 + dt.timedelta(days=40))
    assert _run(T0 + dt.timedelta(days=90)) == {"accrued": 0, "credited": 0, "voided": 0, "waiting": 0}
    assert customer_balance(alice, "USD") == Money.of("1.00", "USD")


def test_a_refund_before_the_credit_reduces_or_voids_it(alice, bob, staff, vps, django_capture_on_commit_callbacks):
    from megalayer.billing.actions import refund_issue
    from megalayer.billing.models import Invoice

    _refer(alice, bob)
    _buy(bob, vps, django_capture_on_commit_callbacks)
    _run(T0 + dt.timedelta(hours=1))
    invoice = Invoice.objects.get(customer=bob, status="paid")
    with clock.travel(T0 + dt.timedelta(days=2)), django_capture_on_commit_callbacks(execute=True):
        refund_issue(
            invoice=invoice, amount=Money.of("4.00", "USD"), reason="provider_outage", note="outage 2027-05-04",
            destination="balance", staff=staff, idempotency_key="r1",
        )  # fmt: skip
    assert _run(T0 + dt.timedelta(days=31))["credited"] == 1
    commission = Commission.objects.get()
    assert (commission.amount, commission.note) == (Decimal("0.6000"), "reduced by the refund of 4.00 USD")
    assert customer_balance(alice, "USD") == Money.of("0.60", "USD")


def test_each_self_referral_sign_is_found(alice, bob):
    from megalayer.accounts.actions import BillingData, billing_profile_update
    from megalayer.accounts.models import User
    from megalayer.affiliates.actions import normalised_email, self_referral_signals
    from megalayer.billing.models import Payment

    assert normalised_email("Jo.Doe+hosting@GoogleMail.com") == normalised_email("jodoe@gmail.com")
    assert normalised_email("jo.doe@example.com") != normalised_email("jodoe@example.com")
    Customer.objects.filter(pk=bob.pk).update(signup_ip="198.51.100.77")
    User.objects.filter(pk=bob.owner_id).update(email="a.lice@example.com")
    fresh = Customer.objects.select_related("owner", "billing_profile")
    assert (
        self_referral_signals(fresh.get(pk=alice.pk), fresh.get(pk=bob.pk)) == []
    )  # not gmail: the dot makes another mailbox
    User.objects.filter(pk=bob.owner_id).update(email="alice+2@example.com")
    for customer in (alice, bob):
        Payment.objects.create(
            customer=customer, gateway="stripe", amount=Decimal(10), currency="USD", status="succeeded",
            created_at=clock.now(), detail={"card_fingerprint": "Xt5EWLLDS7FJjR1c"},
        )  # fmt: skip
        billing_profile_update(
            customer=customer,
            data=BillingData(name="A. Liddell", address_line1="1  Rabbit Hole", city="Oxford", country="GB"),
        )
    assert self_referral_signals(fresh.get(pk=alice.pk), fresh.get(pk=bob.pk)) == [
        "same e-mail address", "same card", "same billing name and address",
    ]  # fmt: skip


def test_the_api_shows_my_link_referrals_and_commissions(alice, bob, vps, django_capture_on_commit_callbacks):
    from megalayer.conftest import bearer

    referral = _refer(alice, bob)
    _buy(bob, vps, django_capture_on_commit_callbacks)
    _run(T0 + dt.timedelta(days=31))
    headers = bearer(alice.owner, scope="read")
    mine = Client().get("/api/v1/affiliate", **headers).json()
    assert (mine["code"], mine["link"], mine["commission_percent"], mine["referrals"]) == (
        referral.code, f"http://127.0.0.1:8000/r/{referral.code}/", "10", 1,
    )  # fmt: skip
    assert mine["totals"] == [{"status": "available", "amount": {"amount": "1.00", "currency": "USD"}}]
    referrals = Client().get("/api/v1/affiliate/referrals", **headers).json()
    assert [(r["id"], r["who"]) for r in referrals["items"]] == [(referral.public_id, "b***@example.com")]
    commissions = Client().get("/api/v1/affiliate/commissions", **headers).json()["items"]
    assert [(c["status"], c["amount"]["amount"]) for c in commissions] == [("available", "1.00")]
    # Bob, the referred, sees his own (empty) programme, not Alice's.
    theirs = Client().get("/api/v1/affiliate/commissions", **bearer(bob.owner, scope="read")).json()
    assert theirs == {"items": [], "next": None}


def test_staff_judge_and_clear_in_the_back_office(alice, bob, staff_client, alice_client):
    referral = _refer(alice, bob, other_address=False)
    page = staff_client.get("/backoffice/affiliates/").content.decode()
    assert referral.public_id in page
    assert "same sign-in address" in page
    staff_client.post(
        "/backoffice/affiliates/", {"action": "review", "referral": referral.public_id, "note": "flatmates"}
    )
    referral.refresh_from_db()
    assert (referral.reviewed_signals, referral.reviewed_by) == (["same sign-in address"], "staff@megalayer.test")
    assert "Nothing to judge." in staff_client.get("/backoffice/affiliates/").content.decode()
    referrer_page = staff_client.get(f"/backoffice/customers/{alice.public_id}/").content.decode()
    assert "Referred 1: " in referrer_page
    assert "bob@example.com" in referrer_page
    referred_page = staff_client.get(f"/backoffice/customers/{bob.public_id}/").content.decode()
    assert "Referred by " in referred_page
    assert "signs: same sign-in address" in referred_page
    staff_client.post("/backoffice/affiliates/", {"action": "clear", "referrer": alice.public_id, "reason": "test"})
    referral.refresh_from_db()
    assert referral.status == "cleared"
    denied = alice_client.post(
        "/backoffice/affiliates/", {"action": "clear", "referrer": alice.public_id, "reason": "x"}
    )
    assert denied.status_code == 302
    assert "/login" in denied["Location"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_credit_a_commission_once(alice, bob, vps):
    import contextlib

    from megalayer.testing_parallel import run_in_parallel, skip_unless_threads_share_the_database

    skip_unless_threads_share_the_database()
    _refer(alice, bob)
    _buy(bob, vps, lambda execute: contextlib.nullcontext())
    _run(T0 + dt.timedelta(hours=1))
    results = run_in_parallel([lambda: _run(T0 + dt.timedelta(days=31)) for _ in range(4)])
    assert sorted(r["credited"] for r in results if isinstance(r, dict)) == [0, 0, 0, 1], results
    assert customer_balance(alice, "USD") == Money.of("1.00", "USD")
    assert AuditEvent.objects.filter(action="affiliate.commission_credited").count() == 1


def test_the_commission_is_a_share_of_what_was_paid_after_a_coupon(alice, bob, vps, django_capture_on_commit_callbacks):
    from megalayer.catalog.models import Coupon

    Coupon.objects.create(code="WELCOME30", kind="percent", value=Decimal("30"), duration="first_term")
    _refer(alice, bob)
    with_billing(bob)
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        fund(bob, "7.00")
        order_place(
            customer=bob, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"), coupon="welcome30"
        )
    _run(T0 + dt.timedelta(hours=1))
    commission = Commission.objects.get()
    assert (commission.base, commission.amount) == (Decimal("7.0000"), Decimal("0.7000"))
