"""Tax on invoices (TOS-TAX-1): prices exclude tax; tax is computed per invoice at issue.

The rate comes from the customer's billing country (staff keep the table). A
business in another EU member state with a VAT number that passes the format
check (python-stdnum) is invoiced under the reverse charge: no tax, with the
check stored as evidence. An online check (VIES) can be plugged in through
``MEGALAYER_VAT_CHECKER``; its answer is stored with the evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from megalayer.billing.models import TaxRate


@dataclass(frozen=True, slots=True)
class TaxDecision:
    rate: Decimal  # percent
    name: str
    country: str
    reverse_charge: bool
    evidence: dict[str, Any]

    def as_snapshot(self) -> dict[str, Any]:
        return {
            "rate": str(self.rate),
            "name": self.name,
            "country": self.country,
            "reverse_charge": self.reverse_charge,
            "evidence": self.evidence,
        }


def vat_number_valid(number: str) -> bool:
    try:
        eu_vat.validate(number)
    except StdnumError:
        return False
    return True


def _online_checker() -> Callable[[str], dict[str, Any]] | None:
    path = getattr(settings, "MEGALAYER_VAT_CHECKER", "")
    return import_string(path) if path else None


def tax_for(*, country: str, tax_id: str) -> TaxDecision:
    """The tax that applies to a customer billed in ``country`` with ``tax_id``."""
    rate = TaxRate.objects.filter(country=country).first()
    if rate is None:
        return TaxDecision(Decimal(0), "No tax", country, False, {"reason": "no rate for this country"})
    provider_country = getattr(settings, "MEGALAYER_PROVIDER_COUNTRY", "HK")
    if rate.eu_member and tax_id and country != provider_country:
        number = tax_id if tax_id[:2].isalpha() else f"{country}{tax_id}"
        evidence: dict[str, Any] = {"vat_number": number, "format_valid": vat_number_valid(number)}
        checker = _online_checker()
        if evidence["format_valid"] and checker is not None:
            evidence["online_check"] = checker(number)
        online_ok = evidence.get("online_check", {}).get("valid", True)
        expected_prefix = "EL" if country == "GR" else country  # Greece's VAT numbers start with EL
        if evidence["format_valid"] and online_ok and number[:2].upper() == expected_prefix:
            return TaxDecision(Decimal(0), "Reverse charge", country, True, evidence)
        return TaxDecision(rate.rate, rate.name, country, False, {**evidence, "reason": "VAT number not accepted"})
    return TaxDecision(rate.rate, rate.name, country, False, {})
