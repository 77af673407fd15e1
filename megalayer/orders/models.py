"""Orders: from checkout to a paid (and, if needed, reviewed) order that becomes a service."""

from __future__ import annotations

from django.db import models

from megalayer.core.fields import EncryptedJSONField
from megalayer.core.ids import PublicIdFactory
from megalayer.core.money import AMOUNT_FIELD
from megalayer.orders.choices import ORDER_STATUS, OrderStatus

AMOUNT = AMOUNT_FIELD


class Order(models.Model):
    """One product ordered at the price in force when it was placed (TOS-PRICE-1)."""

    Status = OrderStatus

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("ord"), editable=False)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="orders")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="orders")
    os_image = models.ForeignKey("catalog.OsImage", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ssh_keys = models.JSONField(default=list, blank=True, help_text="Public keys chosen at order, for cloud-init.")
    cloud_init = EncryptedJSONField(
        default=dict, blank=True, help_text='{"user_data": …}: the customer\'s cloud-init user data, encrypted.'
    )
    cycle = models.CharField(max_length=16)
    recurring_amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3)
    price_version = models.ForeignKey("catalog.PriceVersion", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.AWAITING_PAYMENT)
    invoice = models.OneToOneField(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    add_ons = models.JSONField(
        default=list, blank=True, help_text="[{code, name, quantity, amount}] at the prices of the order."
    )
    coupon = models.ForeignKey("catalog.Coupon", null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    list_amount = models.DecimalField(**AMOUNT, default=0, help_text="The catalog price before any coupon.")
    fraud_score = models.PositiveSmallIntegerField(default=0)
    fraud_reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    service = models.OneToOneField(
        "services.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [ORDER_STATUS.constraint()]

    def __str__(self) -> str:
        return f"{self.public_id} {self.product_id} ({self.status})"
