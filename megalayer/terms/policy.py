"""Policy parameters of a terms version, validated by one schema.

The Terms fix some numbers (one free reinstall a month, $5 after) and leave
others open (grace days, reminder days). All of them live in the terms version,
never as literals in code, so a provider changes them by publishing a version
and every decision can record the version it applied. Defaults are those of
``requirements.md``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from megalayer.core.errors import InvalidInput
from megalayer.core.money import Currency, Money
from megalayer.core.numbers import AsciiDecimal
from megalayer.terms.choices import AbuseCategory

Days = Annotated[int, Field(ge=0, le=3650)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MoneyAmount(_Section):
    amount: AsciiDecimal = Field(ge=0, max_digits=12, decimal_places=3)
    currency: Currency = "USD"

    def money(self) -> Money:
        return Money(self.amount, self.currency).quantize()


class ReinstallPolicy(_Section):
    free_per_month: int = Field(default=1, ge=0, le=100)
    fee: MoneyAmount = MoneyAmount(amount=Decimal("5.00"))


class RenewalPolicy(_Section):
    invoice_days_before: Days = 7
    reminder_days_before: list[Days] = [7, 3, 1]

    @field_validator("reminder_days_before")
    @classmethod
    def _distinct_descending(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("reminder days must be distinct")
        return sorted(value, reverse=True)


class ExpiryPolicy(_Section):
    suspend_after_days: Days = 1
    delete_after_days: Days = 7

    @model_validator(mode="after")
    def _delete_after_suspend(self) -> ExpiryPolicy:
        if self.delete_after_days < self.suspend_after_days:
            raise ValueError("delete_after_days must not be before suspend_after_days")
        return self


class OrdersPolicy(_Section):
    fraud_review_threshold: int = Field(default=50, ge=0, le=100)
    unpaid_cancel_after_days: Days = 7


class AccountsPolicy(_Section):
    password_max_age_days: Days = 180
    # Between an account deletion request and the erasure of its personal data (TOS-PRIVACY-1):
    # time to stop a deletion the customer did not mean, or did not make.
    erasure_grace_days: Days = 14


class NetworkPolicy(_Section):
    ip_quarantine_days: Days = 30


class RepeatOffencePolicy(_Section):
    """Repeat offences (TOS-ABUSE-2): ``cases`` cases of one customer opened within ``days`` make a repeat
    offence; ``measure`` says what follows: nothing, a proposal to staff to suspend the account, or the
    account's suspension at once."""

    cases: int = Field(default=3, ge=2, le=100)
    days: Days = 90
    measure: Literal["none", "propose", "suspend_account"] = "propose"


class AbusePolicy(_Section):
    response_deadline_hours: int = Field(default=24, ge=1, le=24 * 90)
    auto_null_route_categories: list[str] = ["spam"]
    # Category (TOS-AUP-1) → fee by offence level: the 1st, 2nd, … case of the customer in that category;
    # the last entry applies to every later offence. None (the default): no fee is charged.
    infraction_fee: dict[str, list[MoneyAmount]] | None = None
    repeat_offence: RepeatOffencePolicy = RepeatOffencePolicy()

    @field_validator("infraction_fee")
    @classmethod
    def _fee_categories(cls, value: dict[str, list[MoneyAmount]] | None) -> dict[str, list[MoneyAmount]] | None:
        if value is None:
            return value
        for category, fees in value.items():
            if category not in AbuseCategory.values:
                raise ValueError(f"unknown abuse category {category!r}")
            if not fees:
                raise ValueError(f"give at least one fee for {category}")
        return value


class TrafficPolicy(_Section):
    """Past a product's monthly traffic allowance (``Product.bandwidth_tb``, counted per calendar month in the
    provider's zone; TOS-NET-1: the allowance is part of the product and its price). ``overage`` says what
    follows: nothing; the server's bandwidth limited to ``throttle_mbps`` until the month ends; each started
    GB past the allowance charged at ``price_per_gb`` on an invoice after the month; or the service suspended
    until the month ends. ``notify_percent``: the notices on the way (100 is the allowance reached)."""

    overage: Literal["none", "throttle", "charge", "suspend"] = "throttle"
    throttle_mbps: int = Field(default=10, ge=1, le=100_000)
    price_per_gb: MoneyAmount = MoneyAmount(amount=Decimal("0.01"))
    counted: Literal["in_and_out", "out"] = "in_and_out"
    notify_percent: list[int] = [80, 100]

    @field_validator("notify_percent")
    @classmethod
    def _percentages(cls, value: list[int]) -> list[int]:
        if any(p < 1 or p > 100 for p in value) or len(set(value)) != len(value):
            raise ValueError("percentages are distinct, from 1 to 100")
        return sorted(value)


class AttackPolicy(_Section):
    auto_null_route_outgoing: bool = False


class SupportPolicy(_Section):
    auto_close_answered_days: Days = 7


class AffiliatesPolicy(_Section):
    commission_percent: Decimal = Field(default=Decimal(10), ge=0, le=100, decimal_places=2)
    holding_days: Days = 30


class LegalHoldPolicy(_Section):
    default_days: int = Field(default=90, ge=1, le=3650)


class Policy(_Section):
    """Every policy number of one terms version."""

    reinstall: ReinstallPolicy = ReinstallPolicy()
    renewal: RenewalPolicy = RenewalPolicy()
    expiry: ExpiryPolicy = ExpiryPolicy()
    orders: OrdersPolicy = OrdersPolicy()
    accounts: AccountsPolicy = AccountsPolicy()
    network: NetworkPolicy = NetworkPolicy()
    abuse: AbusePolicy = AbusePolicy()
    attack: AttackPolicy = AttackPolicy()
    traffic: TrafficPolicy = TrafficPolicy()
    support: SupportPolicy = SupportPolicy()
    affiliates: AffiliatesPolicy = AffiliatesPolicy()
    legal_hold: LegalHoldPolicy = LegalHoldPolicy()


def default_policy_data() -> dict[str, Any]:
    return Policy().model_dump(mode="json")


def policy_parse(data: dict[str, Any]) -> Policy:
    """Validate raw parameters; the first problem is raised with its dotted field path."""
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "policy"
        raise InvalidInput(f"{field}: {first['msg']}", field=f"policy.{field}") from error
