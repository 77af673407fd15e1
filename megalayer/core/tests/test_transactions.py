"""Actions that move money or change a lifecycle commit on their own (core/transactions.py, issue 15).

These tests are transactional: Django's ``TestCase`` turns the durability check off for the
transaction it wraps every test in, so only here does nesting meet the check a production caller would.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from megalayer.audit.models import AuditEvent
from megalayer.core import clock
from megalayer.core.transactions import outermost, rehearsal
from megalayer.services.actions import service_deny_renewal
from megalayer.services.models import Service

pytestmark = pytest.mark.django_db(transaction=True)


def _service(customer, vps) -> Service:
    now = clock.now()
    return Service.objects.create(
        customer=customer, product=vps, cycle="monthly", recurring_amount=10, currency="USD", anchor_day=1,
        paid_until=now + dt.timedelta(days=20), created_at=now - dt.timedelta(days=10), status="active",
    )  # fmt: skip


def test_an_outermost_action_inside_another_transaction_is_refused_and_changes_nothing(alice, vps, staff):
    service = _service(alice, vps)
    events = AuditEvent.objects.count()
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        service_deny_renewal(service=service, staff=staff, note="caller's transaction")
    service.refresh_from_db()
    assert service.renewal_denied is False
    assert AuditEvent.objects.count() == events


def test_on_its_own_it_commits_and_inside_a_rehearsal_it_is_a_savepoint(alice, vps, staff):
    service = _service(alice, vps)
    service_deny_renewal(service=service, staff=staff, note="on its own")
    assert Service.objects.get(pk=service.pk).renewal_denied is True

    other = _service(alice, vps)

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), rehearsal():
        service_deny_renewal(service=other, staff=staff, note="rehearsed")
        assert Service.objects.get(pk=other.pk).renewal_denied is True
        raise Rollback
    assert Service.objects.get(pk=other.pk).renewal_denied is False


def test_a_rehearsal_ends_with_its_block():
    with rehearsal(), outermost():
        pass  # nested on purpose: allowed inside the rehearsal
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic(), outermost():
        pass
