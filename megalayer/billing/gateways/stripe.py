"""Stripe: Checkout for cards, Alipay and WeChat Pay; verified webhooks; refunds.

Webhooks are verified with the endpoint secret and Stripe's timestamp tolerance
(``stripe.Webhook.construct_event``), stored once per event id, and both
``checkout.session.completed`` and ``payment_intent.succeeded`` for the same
payment find the same ``Payment`` through the metadata we set, so it is
credited once.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError

from megalayer.billing.actions import payment_succeeded
from megalayer.billing.gateways import Checkout, Gateway
from megalayer.billing.models import Payment, WebhookEvent
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.money import Money, minor_units
from megalayer.core.transactions import outermost

WEBHOOK_TOLERANCE_SECONDS = 300
logger = logging.getLogger(__name__)
PAID_EVENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded", "payment_intent.succeeded"}


def _minor(amount: Money) -> int:
    return int(amount.quantize().amount.scaleb(minor_units(amount.currency)))


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise RuleRefused("Card payments are not configured.", rule="gateway-not-configured", requirement="TOS-BAL-1")
    base = settings.STRIPE_API_BASE
    # A bounded wait: a slow Stripe must not hold a worker (or a webhook) for the SDK's default 80 s.
    http_client = stripe.new_default_http_client(timeout=20)
    if base:  # tests point the SDK at a local stand-in for Stripe's servers
        return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses={"api": base}, http_client=http_client)
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, http_client=http_client)


class StripeGateway(Gateway):
    code = "stripe"
    label = "Card, Alipay or WeChat Pay (Stripe)"

    def start(self, *, payment: Any, return_url: str) -> Checkout:
        amount = Money(payment.amount, payment.currency)
        metadata = {"payment": payment.public_id, "customer": payment.customer.public_id}
        params: Any = {
            "mode": "payment",
            "payment_method_types": ["card", "alipay", "wechat_pay"],
            "payment_method_options": {"wechat_pay": {"client": "web"}},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": amount.currency.lower(),
                        "unit_amount": _minor(amount),
                        "product_data": {"name": f"Megalayer payment {payment.public_id}"},
                    },
                }
            ],
            "client_reference_id": payment.public_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "success_url": return_url,
            "cancel_url": return_url,
        }
        session = _client().v1.checkout.sessions.create(params=params, options={"idempotency_key": payment.public_id})

        Payment.objects.filter(pk=payment.pk).update(gateway_reference=session.id)
        return Checkout(redirect_url=str(session.url), reference=session.id)

    def refund(self, *, payment: Any, amount: Money, refund: Any) -> None:
        intent = payment.detail.get("payment_intent")
        if not intent:
            raise RuleRefused(
                "This card payment has no payment intent to refund.",
                rule="no-original-payment",
                requirement="TOS-REFUND-1",
            )
        result = _client().v1.refunds.create(
            params={"payment_intent": intent, "amount": _minor(amount), "metadata": {"refund": refund.public_id}},
            options={"idempotency_key": refund.public_id},
        )
        type(refund).objects.filter(pk=refund.pk).update(gateway_reference=result.id)


def stripe_webhook(*, payload: bytes, signature: str | None) -> str:
    """Verify, store once, process. Returns what happened; raises ``InvalidInput`` when refused."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise InvalidInput("Stripe webhooks are not configured.", field="Stripe-Signature")
    if not signature:
        raise InvalidInput("The Stripe-Signature header is missing.", field="Stripe-Signature")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise InvalidInput("The Stripe signature does not verify.", field="Stripe-Signature") from error

    # Radar's verdict is read before the transaction: a call to Stripe must not hold database locks.
    risk = _risk(event.to_dict()) if event["type"] in PAID_EVENTS else {}
    try:
        with outermost():
            record = WebhookEvent.objects.create(
                gateway="stripe",
                event_id=event["id"],
                event_type=event["type"],
                received_at=clock.now(),
                payload=event.to_dict(),
            )
            outcome = _process(event.to_dict(), risk)
            WebhookEvent.objects.filter(pk=record.pk).update(processed_at=clock.now())
    except IntegrityError:
        return "duplicate"
    return outcome


def _intent_of(event: dict[str, Any]) -> str | None:
    obj = event["data"]["object"]
    intent = obj.get("payment_intent") if event["type"].startswith("checkout") else obj.get("id")
    return str(intent) if intent else None


def _risk(event: dict[str, Any]) -> dict[str, Any]:
    """Stripe Radar's verdict on the charge, for the fraud check of what the money pays (TOS-FRAUD-1).

    Paid events carry only the PaymentIntent's id, so its latest charge is fetched with
    ``outcome.risk_level`` (normal, elevated, highest, not_assessed) and ``risk_score``
    (0-99), and the card's ``fingerprint`` (the same card under another account is a
    self-referral sign, TOS-AFF-2). A failed lookup never blocks a payment: the risk is then
    "unknown".
    """
    intent = _intent_of(event)
    if not intent:
        return {}
    try:
        found = _client().v1.payment_intents.retrieve(intent, params={"expand": ["latest_charge"]})
        charge = found.latest_charge
        outcome = getattr(charge, "outcome", None)
        if outcome is None:
            return {"risk_level": "unknown"}
        verdict = outcome.to_dict()
        facts = {"risk_level": str(verdict.get("risk_level") or "unknown"), "risk_score": verdict.get("risk_score")}
        details = getattr(charge, "payment_method_details", None)
        card = details.to_dict().get("card") if details is not None else None
        if isinstance(card, dict) and card.get("fingerprint"):
            facts["card_fingerprint"] = str(card["fingerprint"])
        return facts
    except (stripe.StripeError, RuleRefused) as error:
        logger.warning("stripe.risk_lookup_failed", extra={"payment_intent": intent, "error": type(error).__name__})
        return {"risk_level": "unknown"}


def _process(event: dict[str, Any], risk: dict[str, Any] | None = None) -> str:
    if event["type"] not in PAID_EVENTS:
        return "ignored"
    obj = event["data"]["object"]
    if event["type"].startswith("checkout.session") and obj.get("payment_status") != "paid":
        return "not paid yet"
    public_id = (obj.get("metadata") or {}).get("payment")

    payment = Payment.objects.filter(public_id=public_id, gateway="stripe").first()
    if payment is None:
        return "unknown payment"
    received = obj.get("amount_total", obj.get("amount_received"))
    if received != _minor(Money(payment.amount, payment.currency)):
        return "amount mismatch"
    intent = _intent_of(event)
    detail: dict[str, Any] = {"payment_intent": intent} if intent else {}
    payment_succeeded(payment=payment, gateway_detail={**detail, **(risk or {})})
    return "paid"
