"""Inbound webhooks: verified signatures, processed once per event id."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Router, Schema

from megalayer.api.schemas import Problem
from megalayer.billing.gateways.stripe import stripe_webhook
from megalayer.core.errors import InvalidInput
from megalayer.core.signed_hooks import verify
from megalayer.network.actions.attacks import Alert, attack_alert
from megalayer.notices.actions.inbound import inbound_mail

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


class AttackAlertIn(Schema):
    """What FastNetMon's notify script passes (``contrib/fastnetmon/notify.py`` turns it into this)."""

    event_id: str = Field(min_length=1, max_length=128, description="Unique per notification: retries repeat it")
    ip: str = Field(max_length=64)
    direction: str = Field(description="incoming or outgoing")
    action: str = Field(description="ban or unban")
    pps: int = Field(default=0, ge=0)
    bps: int = Field(default=0, ge=0)
    details: str = Field(default="", max_length=20000, description="The attack details FastNetMon sends on stdin")


@router.post(
    "/hooks/attack-alarms",
    auth=None,
    response={200: HookOut, 422: Problem},
    summary="DDoS detector alerts (signed: X-Megalayer-Signature t=…,v1=HMAC-SHA256)",
)
def hooks_attack_alarms(request: HttpRequest) -> HookOut:
    import json

    from pydantic import ValidationError as PydanticError

    verify(
        request.body,
        request.headers.get("X-Megalayer-Signature"),
        settings.MEGALAYER_ATTACK_HOOK_SECRET,
        field="X-Megalayer-Signature",
    )
    try:
        data = AttackAlertIn.model_validate(json.loads(request.body or b"{}"))
    except (ValueError, PydanticError) as error:
        raise InvalidInput("The body is not a valid alert.", field="body") from error
    alert = Alert(
        event_id=data.event_id,
        address=data.ip,
        direction=data.direction,
        action=data.action,
        pps=data.pps,
        bps=data.bps,
        details=data.details,
    )
    return HookOut(outcome=attack_alert(alert))


@router.post(
    "/hooks/inbound-mail",
    auth=None,
    response={200: HookOut, 422: Problem},
    summary="Raw RFC 5322 mail from the mail server: bounces, ticket replies (signed like the other hooks)",
    # The body is a raw RFC 5322 message; declared as octet-stream, which every client can send.
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def hooks_inbound_mail(request: HttpRequest) -> HookOut:

    verify(
        request.body,
        request.headers.get("X-Megalayer-Signature"),
        settings.MEGALAYER_INBOUND_MAIL_SECRET,
        field="X-Megalayer-Signature",
    )
    # The envelope recipient the mail server delivered to (the pipe passes it): routing only, never trust.
    envelope = request.headers.get("X-Megalayer-Envelope-To", "").split(",")
    return HookOut(outcome=inbound_mail(request.body, envelope))
