"""The renewal invoice of a service's next period: its one line, issuing it, and finding the open one.

Shared by the automation run (batches), "renew now", and a withdrawn cancellation (which issues again the
invoice its request voided).
"""

from __future__ import annotations

import datetime as dt

from megalayer.audit.actions import Actor
from megalayer.billing.actions import LineData, invoice_create, invoice_issue
from megalayer.billing.choices import InvoiceStatus
from megalayer.billing.models import Invoice
from megalayer.catalog.models import CYCLE_MONTHS
from megalayer.core.money import Money
from megalayer.services.choices import LineKind
from megalayer.services.models import Service
from megalayer.services.periods import add_months, renewal_reference

ACTOR = Actor.system("automation")


def renewal_description(service: Service) -> str:
    extras = "".join(f", {item['quantity']} × {item['name']}" for item in service.add_ons)
    return f"Renewal of {service.product.name} ({service.public_id}){extras}"


def next_period_end(service: Service, start: dt.datetime) -> dt.datetime:
    return add_months(start, CYCLE_MONTHS[service.cycle], service.anchor_day)


def renewal_line(service: Service) -> LineData:
    """The invoice line that renews ``service`` for its next period at its own price (TOS-PRICE-1): the one
    definition, for the automation's batches and a single renewal alike."""

    return LineData(
        kind=LineKind.RENEWAL,
        reference=renewal_reference(service.public_id, service.paid_until),
        description=renewal_description(service),
        unit_price=Money(service.recurring_amount, service.currency),
        period_start=service.paid_until,
        period_end=next_period_end(service, service.paid_until),
    )


def issue_renewal(service: Service) -> str:
    draft = invoice_create(customer=service.customer, currency=service.currency, lines=[renewal_line(service)])
    invoice = invoice_issue(
        invoice=draft, actor=ACTOR, auto_apply=service.auto_renew, pays_on_top_up=service.auto_renew
    )
    return invoice.public_id


def open_renewal(service: Service) -> Invoice | None:
    return Invoice.objects.filter(
        status=InvoiceStatus.ISSUED,
        lines__kind=LineKind.RENEWAL,
        lines__reference=renewal_reference(service.public_id, service.paid_until),
    ).first()
