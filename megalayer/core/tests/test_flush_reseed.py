"""The seed migrations' rows survive a transactional test's flush (conftest ``_reseed_after_flush``): a test
that needs a seeded location passes whichever test ran before it on the same worker."""

from __future__ import annotations

import pytest

from megalayer.catalog.models import Location
from megalayer.support.models import Department


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_flushes_at_its_end():
    Location.objects.all().delete()
    Department.objects.all().delete()
    assert not Location.objects.exists()


@pytest.mark.django_db(transaction=True)  # transactional too, so that pytest-django keeps it after the first
def test_the_next_test_finds_the_seed_again():
    assert sorted(Location.objects.values_list("code", flat=True)) == ["hkg", "mnl", "sin", "sjc"]
    assert sorted(Department.objects.values_list("code", flat=True)) == ["abuse", "billing", "sales", "technical"]
