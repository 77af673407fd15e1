"""Affiliates, end to end (requirements.md, "Affiliates")."""

import datetime as dt

import pytest
from django.test import Client

from megalayer.accounts.actions import BillingData, billing_profile_update
from megalayer.accounts.models import Customer
from megalayer.affiliates.actions import commissions_run
from megalayer.conformance.tests.steps import audit, customer_api, notices, staff_api
from megalayer.conftest import bearer, make_staff
from megalayer.core import clock

pytestmark = pytest.mark.django_db
PASSPHRASE = "a long enough passphrase 42"


def _signed_up_through(link: str, email: str, terms_number: int, *, address: str) -> Customer:
    """A visitor follows the referral link and signs up in the client area from ``address``."""
    visitor = Client(REMOTE_ADDR=address)
    landing = visitor.get(link.removeprefix("http://127.0.0.1:8000"))
    assert (landing.status_code, landing["Location"]) == (302, "/auth/signup/")
    form = {
        "email": email,
        "full_name": "Carol Chan",
        "password1": PASSPHRASE,
        "password2": PASSPHRASE,
        "terms_version": terms_number,
        "accept_terms": "on",
    }
    assert visitor.post("/auth/signup/", form).status_code == 302
    return Customer.objects.get(owner__email=email)


def _buys(customer: Customer, vps, capture) -> None:
    """Billing data of their own, a sandbox top-up and an order through the API."""
    billing_profile_update(
        customer=customer,
        data=BillingData(name="Carol Chan", address_line1="9 Harbour Road", city="Wan Chai", country="HK"),
    )
    api = customer_api(customer)
    with capture(execute=True):
        assert api.post("/balance/top-ups", {"amount": {"amount": "10.00", "currency": "USD"}, "gateway": "sandbox"})
        assert api.post("/orders", {"product": vps.code}).status_code == 201


def test_tos_aff_1(alice, terms_v1, vps, settings, django_capture_on_commit_callbacks):
    """The affiliate's link brings a sign-up; the referred customer's paid invoice accrues a commission that
    becomes available after the holding period, on the affiliate's balance; the API shows all of it."""
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    affiliate = customer_api(alice)
    mine = affiliate.get("/affiliate").json()
    assert (mine["commission_percent"], mine["holding_days"], mine["referrals"]) == ("10", 30, 0)
    carol = _signed_up_through(mine["link"], "carol@example.net", terms_v1.number, address="203.0.113.50")
    _buys(carol, vps, django_capture_on_commit_callbacks)

    with clock.travel(clock.now() + dt.timedelta(hours=1)):
        assert commissions_run()["accrued"] == 1
    [referral] = affiliate.get("/affiliate/referrals").json()["items"]
    assert (referral["who"], referral["status"]) == ("c***@example.net", "active")
    [commission] = affiliate.get("/affiliate/commissions").json()["items"]
    assert (commission["status"], commission["amount"]["amount"], commission["rate"]) == ("holding", "1.00", "10.00")
    available_at = dt.datetime.fromisoformat(commission["available_at"])
    with clock.travel(available_at + dt.timedelta(minutes=1)):
        assert commissions_run()["credited"] == 1
        assert commissions_run()["credited"] == 0  # once
    [credited] = affiliate.get("/affiliate/commissions").json()["items"]
    assert credited["status"] == "available"
    assert affiliate.get("/balance").json()["balances"] == [{"amount": "1.00", "currency": "USD"}]
    [event] = audit("affiliate.commission_credited", alice.public_id)
    assert (event.requirement, event.data["amount"]) == ("TOS-AFF-1", "1.00")


def test_tos_aff_2(alice, terms_v1, vps, settings, django_capture_on_commit_callbacks):
    """A sign-up through the link from the affiliate's own sign-up address is a self-referral sign; staff see
    it in the review queue of the staff API and clear the affiliate's data with a reason; the affiliate is
    told and nothing unpaid is credited."""
    settings.MEGALAYER_GATEWAYS = ["sandbox"]
    affiliate = customer_api(alice)
    link = affiliate.get("/affiliate").json()["link"]
    carol = _signed_up_through(link, "carol@example.net", terms_v1.number, address=alice.signup_ip)
    _buys(carol, vps, django_capture_on_commit_callbacks)
    with clock.travel(clock.now() + dt.timedelta(hours=1)):
        commissions_run()

    desk = staff_api(make_staff("catalog@megalayer.test", "admin"))
    [queued] = desk.get("/staff/affiliates/review").json()
    assert (queued["referrer"], queued["referred"], queued["signals"]) == (
        alice.public_id,
        carol.public_id,
        ["same sign-in address"],
    )
    as_customer = Client().post(
        f"/api/v1/staff/customers/{alice.public_id}/affiliate/clear",
        {"reason": "x"},
        content_type="application/json",
        **bearer(alice.owner),
    )
    assert as_customer.status_code == 403
    empty = desk.post(f"/staff/customers/{alice.public_id}/affiliate/clear", {"reason": ""})
    assert (empty.status_code, empty.json()["errors"][0]["field"]) == (422, "reason")
    assert affiliate.get("/affiliate/referrals").json()["items"][0]["status"] == "active"

    with django_capture_on_commit_callbacks(execute=True):
        cleared = desk.post(
            f"/staff/customers/{alice.public_id}/affiliate/clear", {"reason": "referred herself from one address"}
        )
    assert cleared.json() == {"referrals": 1, "commissions": 1}
    assert affiliate.get("/affiliate/referrals").json()["items"][0]["status"] == "cleared"
    assert affiliate.get("/affiliate/commissions").json()["items"][0]["status"] == "cleared"
    with clock.travel(clock.now() + dt.timedelta(days=31)):
        assert commissions_run()["credited"] == 0
    assert affiliate.get("/balance").json()["balances"] in ([], [{"amount": "0.00", "currency": "USD"}])
    [told] = notices(affiliate, "affiliate_cleared")
    assert told["requirement"] == "TOS-AFF-2"
    [event] = audit("affiliate.cleared", alice.public_id)
    assert (event.requirement, event.data["reason"], event.data["signals"]) == (
        "TOS-AFF-2",
        "referred herself from one address",
        {queued["id"]: ["same sign-in address"]},
    )
