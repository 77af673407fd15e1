"""A customer cancels a service (issue 20): at the end of the paid term, or now.

The Terms say a service runs until it is "not renewed" ("Service Term", TOS-TERM-1) and that nothing is
refunded for reasons on the customer's side (Payment and Refund Policy 3, TOS-REFUND-1). So:

- **At the end of the term**: the service is not renewed. Its unpaid renewal invoice is voided (nothing to
  pay, auto-renew does not pay it; ``Service.cancel_at`` reads the pending request), and the automation run
  terminates it then (``cancellation_carry_out``), with the termination notice and audit event. Until then
  the customer may withdraw the request: renewals resume, and a renewal invoice voided by the request is issued again.
- **Now**: the service is terminated at once (its server destroyed, its data deleted) and nothing is
  refunded; the API and the form insist on an explicit confirmation that says so.

A standing legal hold stops the deletion either way (TOS-HOLD-1, the existing deletion guard): a "now"
request is refused with nothing written, an end-of-term one waits for the hold like any termination.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, RuleRefused
from megalayer.core.events import event_emit
from megalayer.core.transactions import outermost
from megalayer.services.actions import renewals_void_open, service_terminate
from megalayer.services.actions.renewals import issue_renewal, open_renewal
from megalayer.services.choices import CANCEL_STATUS, CancelReason, CancelStatus, CancelWhen, Effect, Reason, Status
from megalayer.services.models import Cancellation, LifecycleEffect, Service
from megalayer.services.notices import notice_service

REQUIREMENT = "TOS-TERM-1"
COMMENT_LIMIT = 2000
NOW_WARNING = (
    "Cancelling now terminates the service at once: the server is destroyed, its data deleted, and the unused "
    "part of the term is not refunded (Terms: Payment and Refund Policy 3)."
)


def cancellation_pending(service: Service) -> Cancellation | None:
    return service.cancellations.filter(status=CancelStatus.PENDING).first()


def cancellation_request(
    *, service: Service, actor: Actor, when: str, reason: str, comment: str = "", confirm: bool = False
) -> Cancellation:
    """Record the customer's cancellation and act on it (see the module). Refused, with nothing written: a
    service that is not running, a second pending request, "now" without ``confirm``, a "now" under a hold."""
    if when not in CancelWhen.values:
        raise InvalidInput("Choose when the service ends: end_of_term or now.", field="when")
    if reason not in CancelReason.values:
        raise InvalidInput(f"Choose a reason: {', '.join(CancelReason.values)}.", field="reason")
    comment = comment.strip()
    if len(comment) > COMMENT_LIMIT:
        raise InvalidInput(f"Keep the comment under {COMMENT_LIMIT} characters.", field="comment")
    if when == CancelWhen.NOW and not confirm:
        raise InvalidInput(NOW_WARNING + " Confirm to go ahead.", field="confirm")
    now = clock.now()
    try:
        with outermost():
            service = Service.objects.select_for_update().get(pk=service.pk)
            if service.status not in (Status.ACTIVE, Status.SUSPENDED):
                raise RuleRefused(
                    "Only a running or suspended service can be cancelled.", rule="not-cancellable",
                    requirement=REQUIREMENT,
                )  # fmt: skip
            if cancellation_pending(service) is not None:
                raise RuleRefused(
                    "A cancellation of this service is already pending; withdraw it first to change it.",
                    rule="cancellation-pending",
                    requirement=REQUIREMENT,
                )
            if when == CancelWhen.END_OF_TERM and service.renewal_denied:
                raise RuleRefused(
                    "This service already ends at the end of its term (renewal denied).",
                    rule="not-renewable",
                    requirement=REQUIREMENT,
                )
            end_of_term = when == CancelWhen.END_OF_TERM
            cancellation = Cancellation.objects.create(
                service=service,
                when=when,
                reason=reason,
                comment=comment,
                status=CancelStatus.PENDING if end_of_term else CancelStatus.DONE,
                requested_at=now,
                requested_by=actor.label or actor.kind,
                effective_at=max(service.paid_until, now) if end_of_term else now,
                done_at=None if end_of_term else now,
            )
            audit_record(
                actor=actor,
                action="service.cancellation_requested",
                target_type="service",
                target_id=service.public_id,
                requirement=REQUIREMENT,
                data={"cancellation": cancellation.public_id, "when": when, "reason": reason},
            )
            event_emit(
                "service.cancellation_requested",
                subject_id=service.public_id,
                customer_id=service.customer.public_id,
                data={
                    "cancellation": cancellation.public_id,
                    "when": when,
                    "reason": reason,
                    "effective_at": cancellation.effective_at.isoformat(),
                },
            )
            if end_of_term:
                renewals_void_open(service, actor, f"service {service.public_id} cancelled at the end of its term")
                notice_service(
                    service=service,
                    kind="cancellation_requested",
                    detail=cancellation.public_id,
                    extra={"cancellation": cancellation},
                    requirement=REQUIREMENT,
                )
            else:
                service_terminate(
                    service=service,
                    reason=Reason.CANCELLED,
                    actor=actor,
                    requirement=REQUIREMENT,
                    note=f"cancelled now by the customer ({cancellation.public_id})",
                )
    except IntegrityError as race:  # a second request committed between our check and our insert
        raise RuleRefused(
            "A cancellation of this service is already pending.", rule="cancellation-pending", requirement=REQUIREMENT
        ) from race
    return cancellation


def cancellation_withdraw(*, service: Service, actor: Actor) -> Cancellation:
    """Withdraw a pending end-of-term cancellation: the service renews again. A renewal invoice the request
    voided is issued anew (the period's effect row points at the new one), so the customer is not left with
    nothing to pay and a suspension ahead."""
    with outermost():
        service = Service.objects.select_for_update().get(pk=service.pk)
        cancellation = cancellation_pending(service)
        if cancellation is None or service.status not in (Status.ACTIVE, Status.SUSPENDED):
            raise RuleRefused(
                "There is no pending cancellation to withdraw.", rule="no-cancellation", requirement=REQUIREMENT
            )
        CANCEL_STATUS.move(cancellation, CancelStatus.WITHDRAWN, withdrawn_at=clock.now())
        issued = LifecycleEffect.objects.filter(
            service=service, period_end=service.paid_until, kind=Effect.RENEWAL_INVOICE
        ).first()
        reissued = ""
        # The period's invoice was issued (the effect row) and none is open: the request voided it (a paid one
        # would have moved paid_until to the next period).
        if issued is not None and open_renewal(service) is None:
            reissued = issue_renewal(service)
            LifecycleEffect.objects.filter(pk=issued.pk).update(reference=reissued)
        audit_record(
            actor=actor,
            action="service.cancellation_withdrawn",
            target_type="service",
            target_id=service.public_id,
            requirement=REQUIREMENT,
            data={"cancellation": cancellation.public_id, "renewal_invoice": reissued},
        )
        notice_service(
            service=service,
            kind="cancellation_withdrawn",
            detail=cancellation.public_id,
            extra={"cancellation": cancellation, "renewal_invoice": reissued},
            requirement=REQUIREMENT,
        )
    return cancellation


def cancellation_carry_out(*, service: Service, actor: Actor) -> None:
    """The automation run, at ``cancel_at``: the service is terminated (its server destroyed, the termination
    notice says it ended at the customer's request) and the request is done, in the run's transaction for
    this effect."""
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        cancellation = cancellation_pending(service)
        if cancellation is None:
            return
        service_terminate(
            service=service,
            reason=Reason.CANCELLED,
            actor=actor,
            requirement=REQUIREMENT,
            note=f"cancelled by the customer at the end of the term ({cancellation.public_id})",
        )
        CANCEL_STATUS.move(cancellation, CancelStatus.DONE, done_at=clock.now())
