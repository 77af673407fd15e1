import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from megalayer.audit.actions import Actor, audit_record
from megalayer.audit.models import AuditEvent
from megalayer.audit.queries import audit_verify

pytestmark = pytest.mark.django_db


def _record(n: int) -> list[AuditEvent]:
    return [
        audit_record(
            actor=Actor.system(),
            action="test.action",
            target_type="thing",
            target_id=str(i),
            requirement="TOS-AUDIT-1",
            terms_version=1,
            data={"amount": "5.00", "i": i},
        )
        for i in range(n)
    ]


def _raw_tamper(sql: str, params: list[str | int]) -> None:
    """Edit a row behind the application's back, lifting the append-only trigger as an attacker with DDL would.

    DDL is transactional on both databases, so the test's rollback restores the triggers.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")
        else:
            cursor.execute("DROP TRIGGER audit_auditevent_append_only_update")
            cursor.execute("DROP TRIGGER audit_auditevent_append_only_delete")
            cursor.execute(sql, params)


def test_untouched_log_verifies(capsys):
    _record(5)
    result = audit_verify()
    assert (result.ok, result.checked) == (True, 5)
    call_command("audit", "verify")
    assert "5 events verified" in capsys.readouterr().out


def test_chain_links_each_event_to_the_previous():
    events = _record(3)
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert [e.id for e in events] == [1, 2, 3]


def test_raw_sql_tampering_is_named_by_verify():
    events = _record(5)
    _raw_tamper("UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"amount": "0.00", "i": 2}', events[2].id])
    with pytest.raises(CommandError, match=r"broken at event #3: content does not match its hash"):
        call_command("audit", "verify")


def test_deleted_event_is_found():
    events = _record(4)
    _raw_tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[3].id])
    result = audit_verify()
    assert (result.ok, result.broken_event_id) == (False, 4)


def test_orm_and_database_refuse_updates_and_deletes():
    event = _record(1)[0]
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.action"
    assert audit_verify().ok
