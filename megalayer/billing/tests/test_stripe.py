"""Stripe webhooks with Stripe's real signature scheme (``t=…,v1=HMAC-SHA256``); only Stripe's servers are absent."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from megalayer.billing.actions import payment_start
from megalayer.billing.models import Payment, WebhookEvent
from megalayer.core.money import Money
from megalayer.ledger.models import LedgerTransaction
from megalayer.ledger.queries import customer_balance, ledger_verify
from megalayer.testing_parallel import run_in_parallel, skip_unless_threads_share_the_database

SECRET = "whsec_test_secret"


@pytest.fixture(autouse=True)
def _stripe_settings(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_SECRET_KEY = "sk_test_unused"
    # Stripe's servers are not on this machine: unless a test starts the stand-in, calls are refused at once.
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"


def sign(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def event(event_id: str, event_type: str, payment: Payment, *, amount: int = 1000) -> bytes:
    if event_type.startswith("checkout"):
        obj = {
            "id": "cs_test_1",
            "object": "checkout.session",
            "payment_status": "paid",
            "amount_total": amount,
            "currency": "usd",
            "payment_intent": "pi_test_1",
            "metadata": {"payment": payment.public_id},
        }
    else:
        obj = {
            "id": "pi_test_1",
            "object": "payment_intent",
            "amount_received": amount,
            "currency": "usd",
            "status": "succeeded",
            "metadata": {"payment": payment.public_id},
        }
    body = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()),
        "type": event_type,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }
    return json.dumps(body).encode()


def post(payload: bytes, signature: str | None) -> Any:
    headers: dict[str, Any] = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return Client().post("/api/v1/hooks/stripe", payload, content_type="application/json", **headers)


@pytest.mark.django_db
def test_both_event_kinds_for_one_payment_credit_it_once(alice):
    payment = payment_start(customer=alice, amount=Money.of("10.00", "USD"), gateway="stripe")
    first = post(
        event("evt_1", "checkout.session.completed", payment),
        sign(event("evt_1", "checkout.session.completed", payment)),
    )
    payload = event("evt_2", "payment_intent.succeeded", payment)
    second = post(payload, sign(payload))
    assert (first.json(), second.json()) == ({"outcome": "paid"}, {"outcome": "paid"})
    payload_again = event("evt_2", "payment_intent.succeeded", payment)
    assert post(payload_again, sign(payload_again)).json() == {"outcome": "duplicate"}
    payment.refresh_from_db()
    assert (payment.status, payment.detail["payment_intent"]) == ("succeeded", "pi_test_1")
    assert customer_balance(alice, "USD") == Money.of("10.00", "USD")
    assert LedgerTransaction.objects.filter(source="topup").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case",
    ["forged", "stale", "missing header", "empty secret", "wrong amount"],
)
def test_bad_deliveries_are_rejected_and_record_nothing(alice, settings, case):
    payment = payment_start(customer=alice, amount=Money.of("10.00", "USD"), gateway="stripe")
    payload = event("evt_x", "payment_intent.succeeded", payment, amount=1 if case == "wrong amount" else 1000)
    signature: str | None = sign(payload)
    if case == "forged":
        signature = sign(payload, secret="whsec_attacker")
    elif case == "stale":
        signature = sign(payload, timestamp=int(time.time()) - 3600)
    elif case == "missing header":
        signature = None
    elif case == "empty secret":
        settings.STRIPE_WEBHOOK_SECRET = ""
    response = post(payload, signature)
    if case == "wrong amount":
        assert response.json() == {"outcome": "amount mismatch"}
    else:
        assert response.status_code == 422
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "Stripe-Signature"
        assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert customer_balance(alice, "USD") == Money.of("0", "USD")
    assert LedgerTransaction.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_same_event_ten_times_concurrently_records_one_payment(alice):
    skip_unless_threads_share_the_database()
    payment = payment_start(customer=alice, amount=Money.of("10.00", "USD"), gateway="stripe")
    payload = event("evt_same", "payment_intent.succeeded", payment)
    results = run_in_parallel([lambda: post(payload, sign(payload)).json()["outcome"] for _ in range(10)])
    outcomes = [str(result) for result in results]
    assert sorted(outcomes) == ["duplicate"] * 9 + ["paid"]
    assert WebhookEvent.objects.count() == 1
    assert LedgerTransaction.objects.filter(source="topup").count() == 1
    assert customer_balance(alice, "USD").amount == Decimal("10.00")
    assert ledger_verify().ok


class FakeStripe:
    """A local stand-in for Stripe's API servers: records requests, answers with Stripe's response shapes."""

    def __init__(self) -> None:
        import http.server

        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.risk_level, self.risk_score = "normal", 12
        self.fingerprint = "Xt5EWLLDS7FJjR1c"
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                """A PaymentIntent with its latest charge expanded, as Stripe answers it (Radar outcome)."""
                path = self.path.split("?", 1)[0]
                fake.requests.append((self.path, "", {}))
                intent = path.rsplit("/", 1)[1]
                body = {
                    "id": intent,
                    "object": "payment_intent",
                    "amount_received": 1000,
                    "currency": "usd",
                    "status": "succeeded",
                    "latest_charge": {
                        "id": "ch_test_1",
                        "object": "charge",
                        "amount": 1000,
                        "currency": "usd",
                        "paid": True,
                        "payment_intent": intent,
                        "payment_method_details": {
                            "type": "card",
                            "card": {
                                "brand": "visa",
                                "country": "US",
                                "exp_month": 12,
                                "exp_year": 2030,
                                "fingerprint": fake.fingerprint,
                                "funding": "credit",
                                "last4": "4242",
                            },
                        },
                        "outcome": {
                            "network_status": "approved_by_network",
                            "reason": None,
                            "risk_level": fake.risk_level,
                            "risk_score": fake.risk_score,
                            "seller_message": "Payment complete.",
                            "type": "authorized",
                        },
                    },
                }
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                import urllib.parse

                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                fake.requests.append((self.path, self.headers.get("Idempotency-Key", ""), form))
                if self.path == "/v1/checkout/sessions":
                    body = {
                        "id": "cs_test_a1",
                        "object": "checkout.session",
                        "url": "https://checkout.stripe.com/c/pay/cs_test_a1",
                        "payment_status": "unpaid",
                        "status": "open",
                        "amount_total": int(form["line_items[0][price_data][unit_amount]"][0]),
                        "currency": form["line_items[0][price_data][currency]"][0],
                        "metadata": {"payment": form["metadata[payment]"][0]},
                    }
                else:
                    body = {
                        "id": "re_test_1",
                        "object": "refund",
                        "amount": int(form["amount"][0]),
                        "currency": "usd",
                        "payment_intent": form["payment_intent"][0],
                        "status": "succeeded",
                    }
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_stripe(settings: Any) -> Any:
    fake = FakeStripe()
    settings.STRIPE_API_BASE = fake.url
    yield fake
    fake.close()


@pytest.mark.django_db
def test_card_payment_of_an_invoice_then_refund_to_the_card(alice, staff, fake_stripe, settings):
    from megalayer.billing.actions import refund_issue
    from megalayer.billing.gateways import gateway_named
    from megalayer.billing.tests.conftest import issued_invoice

    alice.auto_apply_balance = False
    alice.save()
    invoice = issued_invoice(alice, "10.00")
    payment = payment_start(customer=alice, amount=Money.of("10.00", "USD"), gateway="stripe", invoice=invoice)
    checkout = gateway_named("stripe").start(payment=payment, return_url="http://127.0.0.1:8000/account/billing/")
    assert checkout.redirect_url == "https://checkout.stripe.com/c/pay/cs_test_a1"
    path, key, form = fake_stripe.requests[0]
    assert (path, key) == ("/v1/checkout/sessions", payment.public_id)
    assert form["line_items[0][price_data][unit_amount]"] == ["1000"]
    methods = [form[f"payment_method_types[{index}]"][0] for index in range(3)]
    assert methods == ["card", "alipay", "wechat_pay"]
    payload = event("evt_card", "checkout.session.completed", payment)
    assert post(payload, sign(payload)).json() == {"outcome": "paid"}
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    refund = refund_issue(
        invoice=invoice,
        amount=Money.of("4.00", "USD"),
        reason="provider_outage",
        note="outage",
        destination="original",
        staff=staff,
        idempotency_key="r1",
    )
    refund.refresh_from_db()
    assert fake_stripe.requests[1][0] == "/v1/payment_intents/pi_test_1?expand%5B0%5D=latest_charge"  # Radar's verdict
    path, key, form = fake_stripe.requests[2]
    assert (path, key, form["amount"], form["payment_intent"]) == (
        "/v1/refunds",
        refund.public_id,
        ["400"],
        ["pi_test_1"],
    )
    assert refund.gateway_reference == "re_test_1"
    assert customer_balance(alice, "USD") == Money.of("0", "USD")  # a card refund never touches the balance
    assert ledger_verify().ok


@pytest.mark.django_db
def test_a_card_gives_back_at_most_what_it_paid(alice, staff, fake_stripe, settings):
    """Issue 14, item 10: the cap of a refund to the original payment is that payment, not the invoice. An
    invoice of 10.00 paid 6.00 from the balance and 4.00 by card: 5.00 back to the card is refused, with
    nothing changed; 4.00 goes."""
    from megalayer.audit.actions import Actor
    from megalayer.billing.actions import invoice_pay_from_balance, refund_issue
    from megalayer.billing.gateways import gateway_named
    from megalayer.billing.models import Refund
    from megalayer.billing.tests.conftest import fund, issued_invoice
    from megalayer.core.errors import RuleRefused

    alice.auto_apply_balance = False
    alice.save()
    invoice = issued_invoice(alice, "10.00")
    fund(alice, "6.00")
    invoice_pay_from_balance(
        invoice=invoice, idempotency_key="b1", actor=Actor.system("t"), amount=Money.of("6.00", "USD")
    )
    payment = payment_start(customer=alice, amount=Money.of("4.00", "USD"), gateway="stripe", invoice=invoice)
    gateway_named("stripe").start(payment=payment, return_url="http://127.0.0.1:8000/account/billing/")
    payload = event("evt_part", "checkout.session.completed", payment, amount=400)
    assert post(payload, sign(payload)).json() == {"outcome": "paid"}
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    requests_before = len(fake_stripe.requests)

    def refund(amount: str, key: str) -> Refund:
        return refund_issue(
            invoice=invoice, amount=Money.of(amount, "USD"), reason="provider_outage", note="outage",
            destination="original", staff=staff, idempotency_key=key,
        )  # fmt: skip

    with pytest.raises(RuleRefused) as refused:
        refund("5.00", "r1")
    assert (refused.value.type_slug, refused.value.field) == ("refund-exceeds-payment", "amount")
    assert (Refund.objects.count(), len(fake_stripe.requests)) == (0, requests_before)
    assert refund("4.00", "r2").amount == Decimal("4.00")
    with pytest.raises(RuleRefused):
        refund("0.01", "r3")  # the card has nothing left to give back; the balance part goes to the balance
    assert Refund.objects.count() == 1
    assert ledger_verify().ok


@pytest.mark.django_db
def test_radar_risk_is_stored_and_an_elevated_card_payment_sends_the_order_to_review(
    alice, vps, fake_stripe, django_capture_on_commit_callbacks
):
    """TOS-FRAUD-1, gateway risk signals: Radar's verdict on the charge is read when Stripe reports the payment."""
    from megalayer.audit.actions import Actor
    from megalayer.orders.actions import order_place
    from megalayer.orders.models import Order
    from megalayer.services.tests.conftest import with_billing

    with_billing(alice)
    order = order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    assert order.invoice is not None
    payment = payment_start(customer=alice, amount=Money.of("10.00", "USD"), gateway="stripe", invoice=order.invoice)
    fake_stripe.risk_level, fake_stripe.risk_score = "highest", 91
    payload = event("evt_risky", "payment_intent.succeeded", payment)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(payload, sign(payload)).json() == {"outcome": "paid"}
    assert fake_stripe.requests[-1][0] == "/v1/payment_intents/pi_test_1?expand%5B0%5D=latest_charge"
    payment.refresh_from_db()
    assert (payment.detail["risk_level"], payment.detail["risk_score"]) == ("highest", 91)
    assert payment.detail["card_fingerprint"] == "Xt5EWLLDS7FJjR1c"  # a self-referral sign (TOS-AFF-2)
    order.refresh_from_db()
    assert order.status == Order.Status.IN_REVIEW
    assert f"+60 card payment {payment.public_id} rated highest risk by the gateway (score 91)" in order.fraud_reasons
    assert not hasattr(order, "service") or order.service is None


@pytest.mark.django_db
def test_a_normal_risk_card_payment_adds_nothing_and_a_failed_lookup_never_blocks_payment(alice):
    payment = payment_start(customer=alice, amount=Money.of("10.00", "USD"), gateway="stripe")
    payload = event("evt_offline", "payment_intent.succeeded", payment)
    assert post(payload, sign(payload)).json() == {"outcome": "paid"}  # Stripe unreachable: paid all the same
    payment.refresh_from_db()
    assert (payment.status, payment.detail["risk_level"]) == ("succeeded", "unknown")
    assert customer_balance(alice, "USD") == Money.of("10.00", "USD")
