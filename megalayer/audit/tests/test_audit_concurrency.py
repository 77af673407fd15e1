"""Parallel writers extend one unbroken chain (real threads, real database connections)."""

from functools import partial

import pytest
from django.db import transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.audit.models import AuditEvent
from megalayer.audit.queries import audit_verify
from megalayer.testing_parallel import run_in_parallel, skip_unless_threads_share_the_database

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_parallel_writers_keep_the_chain_intact():
    skip_unless_threads_share_the_database()
    writers, per_writer = 8, 10

    def write(worker: int) -> None:
        for index in range(per_writer):
            with transaction.atomic():
                audit_record(
                    actor=Actor.system(f"w{worker}"),
                    action="test.parallel",
                    target_type="thing",
                    target_id=f"{worker}-{index}",
                    requirement="TOS-AUDIT-1",
                    terms_version=1,
                )

    errors = [r for r in run_in_parallel([partial(write, n) for n in range(writers)]) if r is not None]
    assert errors == []
    assert AuditEvent.objects.count() == writers * per_writer
    result = audit_verify()
    assert (result.ok, result.checked) == (True, writers * per_writer)
