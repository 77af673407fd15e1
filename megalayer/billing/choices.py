"""Statuses and their transition tables, refund reasons."""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.ISSUED, InvoiceStatus.VOID}),
    InvoiceStatus.ISSUED: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}
INVOICE_STATUS = StatusTable("billing.Invoice", InvoiceStatus, INVOICE_TRANSITIONS, requirement="TOS-INVOICE-1")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.SUCCEEDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
}
PAYMENT_STATUS = StatusTable("billing.Payment", PaymentStatus, PAYMENT_TRANSITIONS, requirement="TOS-BAL-1")


class RefundReason(models.TextChoices):
    """Reasons on the provider's side only: the Terms refund nothing else (TOS-REFUND-1)."""

    PROVIDER_OUTAGE = "provider_outage", "Outage on our side"
    BILLING_ERROR = "billing_error", "Billing error"
    PROVIDER_CANCELLED = "provider_cancelled", "We cancelled the service"
    DUPLICATE_PAYMENT = "duplicate_payment", "Duplicate payment"
    STAFF_ERROR = "staff_error", "Error by our staff (Data Security 2)"


class RefundDestination(models.TextChoices):
    BALANCE = "balance", "Account balance"
    ORIGINAL = "original", "Original payment"
