"""Terms versions and the record of who accepted which (TOS-ACCEPT-1, TOS-ACCEPT-2)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from megalayer.terms.policy import Policy, default_policy_data
from megalayer.terms.requirements import packaged_requirement_ids


class TermsVersion(models.Model):
    """One published text of the Terms with its policy numbers.

    Versions are numbered 1, 2, 3…; the one in force at a moment is the highest
    whose ``effective_at`` is not after it. A published version is never edited:
    a change is a new version, so every decision can name the text it applied.
    """

    number = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200, default="Terms of Service")
    body = models.TextField()
    summary = models.TextField(help_text="What changed, in plain words; sent to customers.")
    update_date = models.DateField(help_text="The 'last updated' date shown under the text.")
    effective_at = models.DateTimeField(db_index=True)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    clauses = models.JSONField(default=list, help_text="Headings found in the text, for citation.")
    policy_data = models.JSONField(default=default_policy_data)
    requirements = models.JSONField(
        default=packaged_requirement_ids,
        help_text="The requirement IDs this version contains: the clauses an enforcement action may cite under it.",
    )

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Terms v{self.number} (effective {self.effective_at:%Y-%m-%d %H:%M} UTC)"

    @property
    def policy(self) -> Policy:
        return Policy.model_validate(self.policy_data)


class TermsAcceptance(models.Model):
    """A user's acceptance of one version: at sign-up, explicitly, or by continued use."""

    class Method(models.TextChoices):
        SIGNUP = "signup", "At sign-up"
        EXPLICIT = "explicit", "Explicitly"
        CONTINUED_USE = "continued_use", "By continued use after the effective time"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terms_acceptances")
    version = models.ForeignKey(TermsVersion, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    method = models.CharField(max_length=16, choices=Method.choices)
    changes_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the customer dismissed the 'what changed' page."
    )

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="terms_acceptance_once_per_version"),
            models.CheckConstraint(
                condition=models.Q(method__in=["signup", "explicit", "continued_use"]), name="terms_acceptance_method"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} accepted v{self.version.number} ({self.method})"
