"""Inbound webhooks: verified signatures, processed once per event id."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from megalayer.api.schemas import Problem
from megalayer.billing.gateways.stripe import stripe_webhook

router = Router(tags=["hooks"])


class HookOut(Schema):
    outcome: str


@router.post(
    "/hooks/stripe",
    auth=None,
    response={200: HookOut, 422: Problem},
    summary="Stripe events (signed with the endpoint secret)",
    include_in_schema=True,
)
def hooks_stripe(request: HttpRequest) -> HookOut:
    return HookOut(outcome=stripe_webhook(payload=request.body, signature=request.headers.get("Stripe-Signature")))
