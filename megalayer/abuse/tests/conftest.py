"""The reporters of the test samples are trusted, as a provider would mark its usual complainants."""

from __future__ import annotations

from typing import Any

import pytest

from megalayer.abuse.models import TrustedReporter
from megalayer.core import clock

SAMPLE_REPORTERS = {
    "complainer.example": "Complainer",
    "mail-reports.example.net": "Mail Reports feedback loop",
    "ids.example.com": "IDS Reporting",
    "rights-agency.example": "Rights Agency",
}


@pytest.fixture(autouse=True)
def trusted_sample_reporters(db: Any) -> None:
    for domain, name in SAMPLE_REPORTERS.items():
        TrustedReporter.objects.create(domain=domain, name=name, added_by="tests", added_at=clock.now())
