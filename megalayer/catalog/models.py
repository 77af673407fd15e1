"""What the provider sells: locations, network tiers, products, prices and OS images (TOS-NET-1, TOS-OS-1,
TOS-PRICE-1)."""

from __future__ import annotations

from typing import Any

from django.db import models

from megalayer.core.ids import PublicIdFactory
from megalayer.core.money import AMOUNT_FIELD

AMOUNT = AMOUNT_FIELD


class Location(models.Model):
    """A data centre city."""

    code = models.SlugField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    country = models.CharField(max_length=2)

    def __str__(self) -> str:
        return self.name


class NetworkTier(models.Model):
    """Premium, standard or international network (Terms: Disclaimers 5), described as customers see it."""

    code = models.SlugField(max_length=16, unique=True)
    name = models.CharField(max_length=50)
    description = models.TextField()
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order"]

    def __str__(self) -> str:
        return self.name


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMIANNUAL = "semiannual", "Semi-annual"
    ANNUAL = "annual", "Annual"


CYCLE_MONTHS: dict[str, int] = {
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMIANNUAL: 6,
    BillingCycle.ANNUAL: 12,
}


class HardwareProfile(models.Model):
    """A kind of physical machine (issue 19): what a dedicated-server product sells and what the inventory's
    machines are. An order for a dedicated server takes an available machine of its product's profile."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    cpu_model = models.CharField(max_length=100, blank=True)
    cpu_cores = models.PositiveSmallIntegerField()
    memory_gb = models.PositiveIntegerField()
    disks = models.CharField(max_length=200, help_text='As sold, e.g. "2 × 960 GB NVMe".')
    nics = models.CharField(max_length=200, blank=True, help_text='e.g. "2 × 10 GbE".')

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Product(models.Model):
    """A plan: a VPS or a dedicated server of given specs, in one location, on one network tier."""

    class Kind(models.TextChoices):
        VPS = "vps", "VPS"
        DEDICATED = "dedicated", "Dedicated server"

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("prd"), editable=False)
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="products")
    tier = models.ForeignKey(NetworkTier, on_delete=models.PROTECT, related_name="products")
    cpu_cores = models.PositiveSmallIntegerField()
    memory_gb = models.PositiveSmallIntegerField()
    disk_gb = models.PositiveIntegerField()
    bandwidth_tb = models.DecimalField(max_digits=6, decimal_places=1)
    ipv4_included = models.PositiveSmallIntegerField(default=1)
    ipv6_prefix_length = models.PositiveSmallIntegerField(
        default=64,
        help_text="The IPv6 prefix each server gets from the tier's IPv6 pool (64: a /64); 0: none. "
        "Where the location has no IPv6 pool for the tier, servers get IPv4 only.",
    )
    is_active = models.BooleanField(default=True, help_text="Offered for new orders.")
    hardware_profile = models.ForeignKey(
        HardwareProfile,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="products",
        help_text="Dedicated servers: the machines an order takes (one free machine of this profile, here).",
    )
    os_images: models.ManyToManyField[OsImage, Any] = models.ManyToManyField(
        "OsImage", related_name="products", blank=True
    )

    class Meta:
        ordering = ["location__code", "tier__sort_order", "kind", "memory_gb"]

    def __str__(self) -> str:
        return f"{self.name} ({self.location.code}, {self.tier.code})"


class PriceVersion(models.Model):
    """A product's price for one billing cycle from ``effective_at`` on (TOS-PRICE-1).

    A new price applies to orders placed after it; a service keeps the price it was
    ordered at for every renewal (the order and the service copy it)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="prices")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3, default="USD")
    effective_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-effective_at"]
        constraints = [
            models.UniqueConstraint(fields=["product", "cycle", "effective_at"], name="price_version_unique"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product.code} {self.cycle} {self.amount} {self.currency} from {self.effective_at:%Y-%m-%d}"


class OsImage(models.Model):
    """An installable system (TOS-OS-1). End-of-life images stay for existing servers, hidden from new orders."""

    class Family(models.TextChoices):
        LINUX = "linux", "Linux"
        WINDOWS = "windows", "Windows"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    family = models.CharField(max_length=16, choices=Family.choices)
    requires_self_activation = models.BooleanField(
        default=False, help_text="Windows: the customer activates the licence (Technical Services 2)."
    )
    end_of_life = models.BooleanField(default=False)

    class Meta:
        ordering = ["family", "name"]

    def __str__(self) -> str:
        return self.name


class IsoImage(models.Model):
    """An installer ISO the operator offers for mounting on servers (issue 18). ``code`` names the image on
    the hosts (``<code>.iso`` in a libvirt storage pool); staff add and withdraw them in the back office."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True, help_text="Offered to customers.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Coupon(models.Model):
    """A promotion for new orders (TOS-PRICE-1): percent or fixed, for the first term or every renewal."""

    class Kind(models.TextChoices):
        PERCENT = "percent", "Percent off"
        FIXED = "fixed", "Fixed amount off"

    class Duration(models.TextChoices):
        FIRST_TERM = "first_term", "First term only"
        RECURRING = "recurring", "Every renewal"

    code = models.CharField(max_length=40, unique=True, help_text="Stored upper case; customers type any case.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD", help_text="For fixed amounts.")
    duration = models.CharField(max_length=16, choices=Duration.choices, default=Duration.FIRST_TERM)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    max_per_customer = models.PositiveIntegerField(
        null=True, blank=True, help_text="Orders one customer may use it on; empty: no limit."
    )
    redemptions = models.PositiveIntegerField(
        default=0, help_text="Orders holding it (rejected or cancelled: given back)."
    )
    valid_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    products = models.ManyToManyField(Product, blank=True, related_name="coupons", help_text="Empty: every product.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gt=0), name="coupon_value_positive"),
            models.CheckConstraint(
                condition=~models.Q(kind="percent") | models.Q(value__lte=100), name="coupon_percent_at_most_100"
            ),
            models.CheckConstraint(
                condition=models.Q(max_redemptions__isnull=True)
                | models.Q(redemptions__lte=models.F("max_redemptions")),
                name="coupon_redemptions_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class AddOn(models.Model):
    """Something ordered with a product in a quantity, e.g. extra IPv4 addresses, billed with it every term.

    The addresses themselves are allocated from the tier's pool by IP management."""

    class Kind(models.TextChoices):
        IPV4 = "ipv4", "Extra IPv4 address"
        SNAPSHOTS = "snapshots", "Scheduled snapshots"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    monthly_amount = models.DecimalField(**AMOUNT)
    currency = models.CharField(max_length=3, default="USD")
    max_quantity = models.PositiveSmallIntegerField(default=16)
    products = models.ManyToManyField(Product, related_name="add_ons", blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(monthly_amount__gte=0), name="addon_price_positive")]

    def __str__(self) -> str:
        return self.name
