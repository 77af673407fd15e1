"""Hosts, servers and machine actions. An ``Operation`` row, not the queue, is the truth about an action."""

from __future__ import annotations

from django.db import models

from megalayer.core.fields import EncryptedJSONField
from megalayer.core.ids import PublicIdFactory
from megalayer.provisioning.choices import (
    HOST_STATUS,
    MACHINE_STATE,
    OPERATION_STATUS,
    HostStatus,
    MachineState,
    OperationStatus,
)


class Host(models.Model):
    """A hypervisor node (or a whole Proxmox cluster / libvirt URI) that staff manage.

    ``parameters`` are the driver's declared parameters; the secret ones (tokens,
    passwords) are shown masked everywhere and never logged, and the whole set is
    encrypted at rest (an API token and a URI are worth the same to an attacker).
    """

    Status = HostStatus

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("hst"), editable=False)
    name = models.CharField(max_length=100, unique=True)
    driver = models.CharField(max_length=32)
    parameters = EncryptedJSONField(default=dict, blank=True)
    location = models.ForeignKey("catalog.Location", on_delete=models.PROTECT, related_name="hosts")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    capacity_vcpus = models.PositiveIntegerField()
    capacity_memory_gb = models.PositiveIntegerField()
    capacity_disk_gb = models.PositiveIntegerField()
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    drift = models.JSONField(default=list, blank=True, help_text="What the last reconciliation found.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["location__code", "name"]
        constraints = [HOST_STATUS.constraint()]

    def __str__(self) -> str:
        return f"{self.name} ({self.driver})"


class Server(models.Model):
    """The machine behind a service, on one host. Kept after destruction, for the history."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("vm"), editable=False)
    service = models.OneToOneField("services.Service", on_delete=models.PROTECT, related_name="server")
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="servers")
    name = models.CharField(max_length=64, unique=True, help_text="The driver's key for the machine.")
    power = models.CharField(max_length=16, default="unknown")
    image = models.CharField(max_length=40, blank=True)
    disk_id = models.CharField(max_length=128, blank=True)
    network_suspended = models.BooleanField(default=False)
    snapshots = models.JSONField(default=list, blank=True, help_text="[{name, created_at}] as the host reported them.")
    vcpus = models.PositiveSmallIntegerField()
    memory_gb = models.PositiveSmallIntegerField()
    disk_gb = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    built_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)
    disk_wiped = models.BooleanField(default=False)
    rescue = models.BooleanField(default=False, help_text="Booted into the rescue system (issue 18).")
    iso = models.CharField(max_length=40, blank=True, help_text="The code of the inserted ISO, if any.")
    bandwidth_limit_mbps = models.PositiveIntegerField(
        null=True, blank=True, help_text="Throttled past the traffic allowance (TOS-TRAFFIC-1); empty: line rate."
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} on {self.host_id}"


class Operation(models.Model):
    """One requested machine action and its attempts.

    Workers claim a due row by compare-and-set, so two workers never run one
    operation; a worker killed mid-run leaves a lease that expires and the next
    sweep takes the row again. Retryable driver errors come back with back-off
    until ``max_attempts``; then, or on a terminal error, the row fails and staff
    are told.
    """

    class Kind(models.TextChoices):
        CREATE = "create", "Create"
        REINSTALL = "reinstall", "Reinstall"
        POWER_ON = "power_on", "Power on"
        POWER_OFF = "power_off", "Power off"
        REBOOT = "reboot", "Reboot"
        SUSPEND = "suspend", "Suspend"
        RESUME = "resume", "Resume"
        DESTROY = "destroy", "Destroy (wipe)"
        SNAPSHOT_CREATE = "snapshot_create", "Snapshot"
        SNAPSHOT_RESTORE = "snapshot_restore", "Restore snapshot"
        SNAPSHOT_DELETE = "snapshot_delete", "Delete snapshot"
        EVIDENCE_COPY = "evidence_copy", "Evidence copy"
        RESCUE_ENTER = "rescue_enter", "Boot rescue system"
        RESCUE_EXIT = "rescue_exit", "Leave rescue system"
        ISO_INSERT = "iso_insert", "Insert ISO"
        ISO_EJECT = "iso_eject", "Eject ISO"
        THROTTLE = "throttle", "Limit bandwidth"

    Status = OperationStatus

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("op"), editable=False)
    service = models.ForeignKey("services.Service", on_delete=models.PROTECT, related_name="operations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=200, unique=True)
    parameters = models.JSONField(default=dict, blank=True)
    secrets = EncryptedJSONField(
        default=dict,
        blank=True,
        help_text="Passwords for the driver, encrypted; emptied when the operation ends.",
    )
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A running attempt's claim; expires if killed.")
    requested_by = models.CharField(max_length=255, blank=True)
    failed_on_our_side = models.BooleanField(
        default=False, help_text="A failure of ours: a reinstall that failed so gives its quota and fee back."
    )
    fee_invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quota_month = models.CharField(max_length=7, blank=True, help_text="YYYY-MM in the provider's zone (reinstalls).")
    log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["service", "kind", "quota_month"], name="operation_quota_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="operation_due_idx"),
        ]
        constraints = [OPERATION_STATUS.constraint()]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.RUNNING)


class TrafficSample(models.Model):
    """A server's interface counters at a moment; the traffic chart shows the differences."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="traffic_samples")
    at = models.DateTimeField()
    rx_bytes = models.BigIntegerField()
    tx_bytes = models.BigIntegerField()

    class Meta:
        ordering = ["at"]
        constraints = [models.UniqueConstraint(fields=["server", "at"], name="traffic_sample_once")]

    def __str__(self) -> str:
        return f"{self.server_id} @ {self.at:%Y-%m-%d %H:%M}"


class TrafficMonth(models.Model):
    """A server's bytes in one calendar month (provider's zone), kept up to date by the sampler as each sample
    arrives (the growth since the previous sample, split at a month's start in proportion to time, as the
    chart splits it). The automation run finds the servers near or past their allowance with one query on
    these rows, instead of reading every server's samples (issue 18; the run stays independent of N)."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="traffic_months")
    month = models.CharField(max_length=7, help_text="YYYY-MM in the provider's zone.")
    rx_bytes = models.BigIntegerField(default=0)
    tx_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["server", "month"], name="traffic_month_once")]
        indexes = [models.Index(fields=["month"], name="traffic_month_idx")]

    def __str__(self) -> str:
        return f"{self.server_id} {self.month}"


class TrafficEffect(models.Model):
    """One step of the traffic allowance (issue 18) for a server and a calendar month: a notice threshold
    crossed, the limit or the suspension applied, the overage charged, the limit lifted. Unique per
    (server, month, kind), so the automation run, rerun or run by two workers, does each once."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="traffic_effects")
    month = models.CharField(max_length=7, help_text="YYYY-MM in the provider's zone.")
    kind = models.CharField(max_length=24)
    at = models.DateTimeField()
    used_bytes = models.BigIntegerField()
    reference = models.CharField(max_length=64, blank=True, help_text="The operation, notice or invoice.")

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["server", "month", "kind"], name="traffic_effect_once")]

    def __str__(self) -> str:
        return f"{self.server_id} {self.month} {self.kind}"


class ConsoleTicket(models.Model):
    """One opening of a server's browser console (issue 18): a short-lived, single-use ticket.

    The token itself is never stored, only its SHA-256: the ticket is bound to the person who opened it
    (the websocket must come with that person's signed-in session) and to the server; the proxy claims it
    by compare-and-set, so a second use, another person's session or a late one is refused. Kept as the
    record of who opened which console when (with the audit event)."""

    token_hash = models.CharField(max_length=64, unique=True)
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="console_tickets")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    by_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    peer = models.CharField(max_length=64, blank=True, help_text="The address the websocket came from.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"console {self.server_id} for {self.user_id}"


class SnapshotSchedule(models.Model):
    """A customer's scheduled snapshots of one server (issue 18): daily or weekly, the newest ``keep`` kept.

    A priced add-on the operator switches on (``AddOn.Kind.SNAPSHOTS``). Each run is one snapshot operation
    keyed by the server and the period, so a rerun or a second worker takes no second snapshot; only the
    schedule's own snapshots (named ``auto-…``) are pruned, never the customer's."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    service = models.OneToOneField("services.Service", on_delete=models.CASCADE, related_name="snapshot_schedule")
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    keep = models.PositiveSmallIntegerField()
    hour = models.PositiveSmallIntegerField(default=3, help_text="Hour of the day (provider's zone) it runs from.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(keep__gte=1, keep__lte=30), name="snapshot_schedule_keep"),
            models.CheckConstraint(
                condition=models.Q(frequency__in=["daily", "weekly"]), name="snapshot_schedule_freq"
            ),
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="snapshot_schedule_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.frequency}, keep {self.keep}"


class SandboxMachine(models.Model):
    """The sandbox driver's "hypervisor": one row per machine. Internal to that driver."""

    pool = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    power = models.CharField(max_length=16)
    image = models.CharField(max_length=40)
    disk_id = models.CharField(max_length=40)
    network_suspended = models.BooleanField(default=False)
    vcpus = models.PositiveSmallIntegerField(default=1)
    memory_mib = models.PositiveIntegerField(default=1024)
    disk_gib = models.PositiveIntegerField(default=10)
    snapshots = models.JSONField(default=list, blank=True)
    authorized_keys = models.JSONField(default=list, blank=True, help_text="What cloud-init gave root.")
    user_data = models.TextField(blank=True, help_text="The customer's user data cloud-init received.")
    ipv6_prefixes = models.JSONField(default=list, blank=True)
    rescue = models.BooleanField(default=False)
    iso = models.CharField(max_length=40, blank=True)
    bandwidth_limit_mbps = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "name"], name="sandbox_machine_name_once")]

    def __str__(self) -> str:
        return f"{self.pool}/{self.name}"


class SandboxFault(models.Model):
    """A fault the sandbox driver will raise on the next calls of an action (for rehearsals and tests)."""

    class Error(models.TextChoices):
        RETRYABLE = "retryable", "Retryable"
        TERMINAL = "terminal", "Terminal"

    pool = models.CharField(max_length=64)
    action = models.CharField(max_length=32, help_text='A driver method name, or "*".')
    error = models.CharField(max_length=16, choices=Error.choices)
    remaining = models.PositiveIntegerField(default=1)
    message = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"{self.pool}: {self.action} fails ({self.error}) × {self.remaining}"


class Machine(models.Model):
    """A physical machine in a rack (issue 19), driven through its BMC by the host's Redfish driver.

    ``bmc`` holds the BMC's address, user, password and system id, encrypted at rest (an address and a
    password are worth the same to an attacker). ``server`` is the server it was given; a machine is given to
    one server at a time (unique) and returns to ``available`` only after its disks were wiped.
    """

    State = MachineState

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("mch"), editable=False)
    name = models.CharField(max_length=64, unique=True)
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="machines")
    profile = models.ForeignKey("catalog.HardwareProfile", on_delete=models.PROTECT, related_name="machines")
    rack = models.CharField(max_length=40, blank=True)
    position = models.CharField(max_length=16, blank=True, help_text='Rack units, e.g. "U12-U13".')
    serial = models.CharField(max_length=64, blank=True)
    macs = models.JSONField(default=list, blank=True)
    bmc = EncryptedJSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.AVAILABLE)
    note = models.CharField(max_length=300, blank=True, help_text="Why the machine is in maintenance or broken.")
    hardware = models.JSONField(default=dict, blank=True, help_text="What its BMC reported at the last check.")
    inspected_at = models.DateTimeField(null=True, blank=True)
    server = models.OneToOneField(Server, on_delete=models.PROTECT, null=True, blank=True, related_name="machine")
    created_at = models.DateTimeField()
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["host__location__code", "rack", "position", "name"]
        constraints = [MACHINE_STATE.constraint()]
        indexes = [models.Index(fields=["profile", "state"], name="machine_profile_state")]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class MachineWait(models.Model):
    """A paid dedicated-server order waiting for a free machine of its profile (issue 19), first come first
    served; the service stays ``provisioning`` meanwhile and the customer is told it is waiting."""

    service = models.OneToOneField("services.Service", on_delete=models.CASCADE, related_name="machine_wait")
    profile = models.ForeignKey("catalog.HardwareProfile", on_delete=models.PROTECT, related_name="waits")
    location = models.ForeignKey("catalog.Location", on_delete=models.PROTECT, related_name="machine_waits")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.service_id} waits for {self.profile_id}"
