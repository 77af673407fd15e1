"""Invoices, credit notes, payments, refunds and tax rates (TOS-INVOICE-1, TOS-TAX-1, TOS-REFUND-1)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from megalayer.billing.choices import (
    INVOICE_STATUS,
    PAYMENT_STATUS,
    InvoiceStatus,
    PaymentStatus,
    RefundDestination,
    RefundReason,
)
from megalayer.core.ids import PublicIdFactory
from megalayer.core.money import AMOUNT_FIELD, Money

AMOUNT = AMOUNT_FIELD


class TaxRate(models.Model):
    """The tax charged to customers billed in one country, kept by staff."""

    country = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=50, default="VAT")
    rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent, e.g. 19.00")
    eu_member = models.BooleanField(
        default=False, help_text="Business customers with a valid VAT number: reverse charge."
    )

    class Meta:
        ordering = ["country"]
        constraints = [
            models.CheckConstraint(condition=models.Q(rate__gte=0, rate__lte=100), name="tax_rate_percent_range"),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.name} {self.rate}%"


class NumberSequence(models.Model):
    """The next number of a series (invoices ``INV``, credit notes ``CN``), locked while taken: no gaps."""

    series = models.CharField(max_length=16, unique=True)
    next_number = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.series} next {self.next_number}"


class Invoice(models.Model):
    """A bill. Once issued its lines, totals, number and bill-to snapshot never change;
    only the amount paid and the status move. Corrections are credit notes."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("inv"), editable=False)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="invoices")
    status = models.CharField(max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    currency = models.CharField(max_length=3)
    series = models.CharField(max_length=16, default="INV")
    number = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)
    pays_from_balance = models.BooleanField(
        default=False,
        help_text="Paid from the balance as money arrives (decided at issue: the customer's auto-apply, or a "
        "renewal's auto-renew); a top-up pays such open invoices, oldest first.",
    )
    due_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    bill_to = models.JSONField(default=dict, blank=True, help_text="Snapshot of the billing profile at issue.")
    tax = models.JSONField(default=dict, blank=True, help_text="Rate, reverse charge and its evidence at issue.")
    subtotal = models.DecimalField(**AMOUNT, default=0)
    tax_total = models.DecimalField(**AMOUNT, default=0)
    total = models.DecimalField(**AMOUNT, default=0)
    amount_paid = models.DecimalField(**AMOUNT, default=0)
    amount_credited = models.DecimalField(**AMOUNT, default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["series", "number"], name="invoice_number_unique"),
            INVOICE_STATUS.constraint(),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(number__isnull=False), name="invoice_issued_has_number"
            ),
            models.CheckConstraint(condition=models.Q(amount_paid__gte=0), name="invoice_paid_not_negative"),
            models.CheckConstraint(condition=models.Q(amount_paid__lte=models.F("total")), name="invoice_not_overpaid"),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return f"{self.series}-{self.number:06d}" if self.number else f"draft {self.public_id}"

    @property
    def amount_due(self) -> Money:
        return Money(self.total - self.amount_paid - self.amount_credited, self.currency)

    def money(self, field: str) -> Money:
        value: Any = getattr(self, field)
        return Money(value, self.currency)


class InvoiceLine(models.Model):
    """One billed item. ``kind`` and ``reference`` say what it bills (a renewal, a reinstall fee, a top-up)
    so that the app owning the kind can act when the line is paid or refunded."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=32)
    reference = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=255)
    quantity = models.DecimalField(max_digits=12, decimal_places=4, default=1)
    unit_price = models.DecimalField(**AMOUNT)
    amount = models.DecimalField(**AMOUNT)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gt=0), name="invoice_line_quantity")]

    def __str__(self) -> str:
        return f"{self.description} × {self.quantity}"


class CreditNote(models.Model):
    """A correction of an issued invoice, numbered in its own series without gaps."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("crn"), editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.PositiveBigIntegerField(unique=True)
    amount = models.DecimalField(**AMOUNT, help_text="Total credited, tax included.")
    tax_amount = models.DecimalField(**AMOUNT, default=0)
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"CN-{self.number:06d}"


class Payment(models.Model):
    """Money received through a gateway (or moved from the balance to an invoice).

    ``(gateway, gateway_reference)`` is unique, so a gateway's event about the
    same payment, however often it arrives, lands on this one row."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("pay"), editable=False)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=16)
    gateway_reference = models.CharField(max_length=128, blank=True)
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(
        null=True, blank=True, help_text="When the money was applied to its invoice (retried until it is)."
    )
    detail = models.JSONField(default=dict, blank=True, help_text="Gateway data without secrets.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference"],
                condition=~models.Q(gateway_reference=""),
                name="payment_gateway_reference_once",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            PAYMENT_STATUS.constraint(),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency} via {self.gateway} ({self.status})"


class Refund(models.Model):
    """Money given back for a reason on the provider's side, decided by staff (TOS-REFUND-1)."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("rfd"), editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    credit_note = models.OneToOneField(CreditNote, on_delete=models.PROTECT, related_name="refund")
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=32, choices=RefundReason.choices)
    note = models.TextField()
    destination = models.CharField(max_length=16, choices=RefundDestination.choices)
    gateway_reference = models.CharField(max_length=128, blank=True, help_text="The gateway's id of the refund.")
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when the platform refunded its own failure.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount} {self.currency}"


class WebhookEvent(models.Model):
    """A gateway event, stored before it is processed: processed once per event id."""

    gateway = models.CharField(max_length=16)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "event_id"], name="webhook_event_once")]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.event_id} {self.event_type}"
