"""The requirement IDs a terms version contains, and the check every enforcement action makes (TOS-ABUSE-2)."""

import pytest

from megalayer.core.errors import InvalidInput
from megalayer.terms.models import TermsVersion
from megalayer.terms.queries import requirement_check
from megalayer.terms.requirements import packaged_requirements

pytestmark = pytest.mark.django_db


def test_the_packaged_requirements_are_read_in_order_with_their_sections():
    requirements = packaged_requirements()
    assert len(requirements) == 38
    assert (requirements[0].id, requirements[0].section) == ("TOS-ACCEPT-1", "Accounts and communication")
    refuse = next(r for r in requirements if r.id == "TOS-REFUSE-1")
    assert refuse.clause == 'Preamble ("reserves the right to refuse")'
    assert refuse.behaviour.startswith("Staff can reject a pending order")
    assert len({r.id for r in requirements}) == 38


def test_a_clause_is_checked_against_the_version_in_force(terms_v1):
    assert terms_v1.requirements == [r.id for r in packaged_requirements()]
    assert requirement_check("TOS-LEGAL-1") == "TOS-LEGAL-1"
    TermsVersion.objects.filter(pk=terms_v1.pk).update(
        requirements=[r for r in terms_v1.requirements if r != "TOS-LEGAL-1"]
    )
    with pytest.raises(InvalidInput) as refused:
        requirement_check("TOS-LEGAL-1")
    assert (refused.value.field, refused.value.detail) == (
        "requirement",
        "TOS-LEGAL-1 is not a requirement of version 1 of the Terms.",
    )
    with pytest.raises(InvalidInput):
        requirement_check("TOS-ABUSE-2 ")


def test_before_any_version_the_packaged_requirements_stand_in():
    assert requirement_check("TOS-HOLD-1") == "TOS-HOLD-1"
    with pytest.raises(InvalidInput):
        requirement_check("TOS-MADEUP-1")
