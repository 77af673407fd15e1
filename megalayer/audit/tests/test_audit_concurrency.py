"""Parallel writers extend one unbroken chain (real threads, real database connections)."""

import threading

import pytest
from django.db import connection, transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.audit.models import AuditEvent
from megalayer.audit.queries import audit_verify

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_parallel_writers_keep_the_chain_intact():
    if connection.vendor == "sqlite":
        pytest.skip("the SQLite test database lives in memory, not shared between threads; CI runs this on PostgreSQL")
    writers, per_writer = 8, 10
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            barrier.wait()
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
        except BaseException as error:  # reported below; a thread must not swallow it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.count() == writers * per_writer
    result = audit_verify()
    assert (result.ok, result.checked) == (True, writers * per_writer)
