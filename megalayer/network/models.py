"""IP management: prefixes per location and network tier, and every assignment with its time range
(TOS-NET-1), so a complaint about an address at a past moment finds who held it then."""

from __future__ import annotations

from django.db import models

from megalayer.network.choices import PREFIX_STATUS, PrefixStatus


class Prefix(models.Model):
    """A block of addresses of one location and network tier (each tier has its own pools, TOS-NET-1)."""

    Status = PrefixStatus

    class Role(models.TextChoices):
        CUSTOMER = "customer", "Customer addresses"
        INFRASTRUCTURE = "infrastructure", "Infrastructure"

    cidr = models.CharField(max_length=64, unique=True, help_text="e.g. 203.0.113.0/24 or 2001:db8:10::/48")
    family = models.PositiveSmallIntegerField(choices=[(4, "IPv4"), (6, "IPv6")])
    location = models.ForeignKey("catalog.Location", on_delete=models.PROTECT, related_name="prefixes")
    tier = models.ForeignKey("catalog.NetworkTier", on_delete=models.PROTECT, related_name="prefixes")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    gateway = models.GenericIPAddressField(null=True, blank=True, help_text="Never allocated to a customer.")

    class Meta:
        ordering = ["family", "cidr"]
        constraints = [PREFIX_STATUS.constraint()]

    def __str__(self) -> str:
        return self.cidr


class IpAssignment(models.Model):
    """One address held by one service (and so one customer) from ``assigned_at`` to ``released_at``.

    Rows are kept after release: they answer "who held this address at that time".
    A released address is quarantined until ``quarantine_until`` before it is reused.
    """

    prefix = models.ForeignKey(Prefix, on_delete=models.PROTECT, related_name="assignments")
    address = models.GenericIPAddressField()
    prefix_length = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="A delegated IPv6 prefix (e.g. 64): ``address`` is its network address and every address "
        "inside it belongs to this holder. Empty: the one address.",
    )
    service = models.ForeignKey(
        "services.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="ip_assignments"
    )
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="ip_assignments")
    assigned_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    quarantine_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-assigned_at"]
        indexes = [models.Index(fields=["address", "assigned_at"], name="ip_assignment_history_idx")]
        constraints = [
            # The last line of defence: one live holder per address, whatever the code above does.
            models.UniqueConstraint(
                fields=["address"], condition=models.Q(released_at__isnull=True), name="ip_assigned_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address} → {self.customer_id} from {self.assigned_at:%Y-%m-%d}"


class NullRoute(models.Model):
    """An address taken off the network (abuse or attack), announced as a BGP blackhole (RFC 7999)."""

    address = models.GenericIPAddressField()
    reason = models.CharField(max_length=255)
    requirement = models.CharField(max_length=32, help_text="E.g. TOS-ABUSE-2 or TOS-ATTACK-1.")
    case_reference = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["address"], condition=models.Q(ended_at__isnull=True), name="null_route_once_per_address"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address} null-routed from {self.started_at:%Y-%m-%d %H:%M}"


class ReverseDns(models.Model):
    """The PTR name of an address, set by the customer who holds it."""

    address = models.GenericIPAddressField(unique=True)
    hostname = models.CharField(max_length=253)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.address} → {self.hostname}"
