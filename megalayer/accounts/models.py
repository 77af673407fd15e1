"""Users, customer accounts, contacts, billing profiles and API tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models

from megalayer.accounts.choices import APPROVAL_STATUS, CUSTOMER_STATUS, ApprovalStatus, CustomerStatus
from megalayer.core.ids import PublicIdFactory


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("an e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: a customer's login or a staff member. The e-mail is the login."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(auto_now_add=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    email_bounced_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when mail to this address bounced; cleared on re-verification."
    )
    staff_roles = models.JSONField(
        default=list, blank=True, help_text="A staff member's roles (accounts/roles.py): what they may do."
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email


class Customer(models.Model):
    """A customer account: what owns services, invoices, tickets and the balance."""

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", "Individual"
        ORGANISATION = "organisation", "Organisation"

    Status = CustomerStatus

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("cus"), editable=False)
    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INDIVIDUAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField()
    signup_ip = models.GenericIPAddressField(null=True, blank=True)
    signup_country = models.CharField(
        max_length=2, blank=True, help_text="Country of the sign-up address (GeoLite2 table); a fraud signal."
    )
    auto_apply_balance = models.BooleanField(
        default=True, help_text="Pay new invoices from the account balance as soon as they are issued."
    )
    currency = models.CharField(max_length=3, default="USD", help_text="The currency of the balance and invoices.")
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="When the personal data was erased on the customer's request (TOS-PRIVACY-1)."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            CUSTOMER_STATUS.constraint(),
            models.CheckConstraint(
                condition=models.Q(kind__in=["individual", "organisation"]), name="customer_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.owner.email})"


class BillingProfile(models.Model):
    """Who is billed (TOS-BILLDATA-1): required before the first order, kept current by the customer."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="billing_profile")
    name = models.CharField(max_length=200)
    organisation = models.CharField(max_length=200, blank=True)
    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=32, blank=True)
    region = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    tax_id = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}, {self.country}"

    @property
    def is_complete(self) -> bool:
        return bool(self.name and self.address_line1 and self.city and self.country)


class Contact(models.Model):
    """Another person at the customer who receives some notices (billing, technical, abuse)."""

    class Role(models.TextChoices):
        BILLING = "billing", "Billing"
        TECHNICAL = "technical", "Technical"
        ABUSE = "abuse", "Abuse"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "email", "role"], name="contact_unique_per_role"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> ({self.role})"


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 of the secret is stored; the token is shown once."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("tok"), editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    is_staff_token = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until revoked.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scope__in=["read", "write"]), name="api_token_scope_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Approval(models.Model):
    """A staff action that needs a second staff member (four eyes, issue 14 item 6): asked by one, decided by
    another who holds the permission it needs; carried out only when approved (``accounts/actions/approvals.py``)."""

    Status = ApprovalStatus

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("apr"), editable=False)
    kind = models.CharField(max_length=40)
    summary = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    result = models.CharField(max_length=100, blank=True, help_text="What was carried out, e.g. the refund's ID.")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [APPROVAL_STATUS.constraint()]

    def __str__(self) -> str:
        return f"{self.public_id} {self.summary}"


class SshKey(models.Model):
    """A named public SSH key the customer keeps in their account; chosen at order and reinstall, it reaches
    the server through cloud-init (issue 18). Only the public half is ever stored."""

    public_id = models.CharField(max_length=24, unique=True, default=PublicIdFactory("key"), editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ssh_keys")
    name = models.CharField(max_length=100)
    public_key = models.TextField(help_text="One line in OpenSSH format: type, base64 body, comment.")
    key_type = models.CharField(max_length=40)
    bits = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=100, help_text="SHA256:… as ssh-keygen -l prints it.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "fingerprint"], name="ssh_key_once_per_customer"),
            models.UniqueConstraint(fields=["customer", "name"], name="ssh_key_name_once_per_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint})"
