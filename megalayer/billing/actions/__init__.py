"""Every write in billing: invoices, payments, top-ups, credit notes, refunds, tax rates.

One module per concern (``invoices``, ``payments``, ``refunds``, ``taxes``, and ``bulk`` for the nightly
run); this package re-exports their public actions so callers import ``megalayer.billing.actions``.
Money moves only through ``megalayer.ledger.actions``.
"""

from megalayer.billing.actions.invoices import (
    DUE_AFTER,
    LineData,
    invoice_create,
    invoice_credit,
    invoice_entry,
    invoice_issue,
    invoice_pay_from_balance,
    invoice_void,
)
from megalayer.billing.actions.payments import (
    customer_set_auto_apply,
    manual_payment_record,
    payment_apply,
    payment_start,
    payment_succeeded,
    payments_apply_pending,
)
from megalayer.billing.actions.refunds import refund_issue
from megalayer.billing.actions.taxes import tax_rate_save

__all__ = [
    "DUE_AFTER",
    "LineData",
    "customer_set_auto_apply",
    "invoice_create",
    "invoice_credit",
    "invoice_entry",
    "invoice_issue",
    "invoice_pay_from_balance",
    "invoice_void",
    "manual_payment_record",
    "payment_apply",
    "payment_start",
    "payment_succeeded",
    "payments_apply_pending",
    "refund_issue",
    "tax_rate_save",
]
