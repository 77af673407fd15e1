"""Legal holds (issue 7, must-show 3): a service under a hold reaches its deletion date and is not deleted;
the run records once that the hold stopped it; after release the next run deletes it. Staff termination
stops at the hold too. Placing a hold takes an evidence copy through the driver."""

from __future__ import annotations

import datetime as dt

import pytest

from megalayer.abuse.holds import LegalHoldStops, legal_hold_place, legal_hold_release
from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.notices.models import Notice
from megalayer.orders.actions import order_place
from megalayer.provisioning.models import Operation, SandboxMachine, Server
from megalayer.services.actions import service_terminate
from megalayer.services.automation import automation_run
from megalayer.services.models import LifecycleEffect, Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2027, 1, 10, 10, 0, tzinfo=dt.UTC)
EXPIRY = dt.datetime(2027, 2, 10, 10, 0, tzinfo=dt.UTC)


def _service(alice, vps, capture) -> Service:
    with_billing(alice)
    with clock.travel(T0), capture(execute=True):
        fund(alice, "10.00")
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=Actor.system("t"))
    service = Service.objects.get(customer=alice)
    assert service.paid_until == EXPIRY
    return service


def test_a_held_service_is_not_deleted_until_the_hold_is_released(
    alice, vps, staff, django_capture_on_commit_callbacks
):
    service = _service(alice, vps, django_capture_on_commit_callbacks)
    server = Server.objects.get(service=service)
    with clock.travel(T0 + dt.timedelta(days=20)), django_capture_on_commit_callbacks(execute=True):
        hold = legal_hold_place(
            staff=staff, service=service, reason="Police request 2027/118: preserve", order_reference="2027/118"
        )
    copy = Operation.objects.get(service=service, kind="evidence_copy")
    assert (copy.status, copy.result["evidence"]["name"]) == ("succeeded", f"evidence-{server.name}-{hold.public_id}")
    assert hold.evidence == {"servers": {service.public_id: {"operation": copy.public_id}}}
    deletion_day = EXPIRY + dt.timedelta(days=7, hours=1)
    for day in (deletion_day, deletion_day + dt.timedelta(days=1)):
        with clock.travel(day), django_capture_on_commit_callbacks(execute=True):
            automation_run()
    service.refresh_from_db()
    assert service.status == "suspended"  # expired, suspended, but not deleted
    assert SandboxMachine.objects.filter(name=server.name).exists()
    held = LifecycleEffect.objects.filter(service=service, kind="held")
    assert list(held.values_list("detail", flat=True)) == [hold.public_id]  # recorded once, not every run
    assert AuditEvent.objects.filter(action="service.deletion_held", target_id=service.public_id).count() == 1
    assert not LifecycleEffect.objects.filter(service=service, kind="terminate").exists()
    assert not Notice.objects.filter(kind="service_terminated").exists()
    with pytest.raises(LegalHoldStops):
        service_terminate(
            service=service, reason="violation", actor=Actor.for_user(staff), requirement="TOS-VIOLATION-1"
        )
    with clock.travel(deletion_day + dt.timedelta(days=2)):
        legal_hold_release(hold=hold, staff=staff, note="Case closed by the police.")
    with clock.travel(deletion_day + dt.timedelta(days=2, hours=1)), django_capture_on_commit_callbacks(execute=True):
        counts = automation_run().counts()
    assert counts == {"terminate": 1}
    service.refresh_from_db()
    assert service.status == "terminated"
    assert not SandboxMachine.objects.filter(name=server.name).exists()
    assert AuditEvent.objects.filter(action="legal_hold.released", target_id=hold.public_id).count() == 1


def test_a_hold_on_the_customer_or_an_address_covers_the_service(alice, vps, staff, django_capture_on_commit_callbacks):
    service = _service(alice, vps, django_capture_on_commit_callbacks)
    with clock.travel(T0 + dt.timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        by_address = legal_hold_place(staff=staff, address="198.18.0.2", reason="subpoena")
        with pytest.raises(LegalHoldStops) as stopped:
            service_terminate(service=service, reason="staff", actor=Actor.for_user(staff), requirement="TOS-ABUSE-2")
        assert stopped.value.hold == by_address
        legal_hold_release(hold=by_address, staff=staff, note="done")
        legal_hold_place(staff=staff, customer=alice, reason="fraud inquiry", ends_at=T0 + dt.timedelta(days=3))
        with pytest.raises(LegalHoldStops):
            service_terminate(service=service, reason="staff", actor=Actor.for_user(staff), requirement="TOS-ABUSE-2")
    service.refresh_from_db()
    assert service.status == "active"
    with clock.travel(T0 + dt.timedelta(days=4)), django_capture_on_commit_callbacks(execute=True):  # the hold ended
        service_terminate(service=service, reason="staff", actor=Actor.for_user(staff), requirement="TOS-ABUSE-2")
    service.refresh_from_db()
    assert service.status == "terminated"


def test_when_no_copy_can_be_made_the_hold_records_why(alice, vps, staff, django_capture_on_commit_callbacks):
    from megalayer.provisioning.models import Host

    service = _service(alice, vps, django_capture_on_commit_callbacks)
    host = Server.objects.get(service=service).host
    Host.objects.filter(pk=host.pk).update(driver="libvirt", parameters={})  # a host whose driver cannot load
    with clock.travel(T0 + dt.timedelta(days=1)):
        hold = legal_hold_place(staff=staff, service=service, reason="preserve")
    assert hold.evidence == {
        "servers": {
            service.public_id: {"copy": None, "why_not": "host driver unavailable: libvirt: missing parameter(s) uri"}
        }
    }
    assert not Operation.objects.filter(kind="evidence_copy").exists()


def test_closing_the_account_stops_at_a_hold_and_runs_after_release(
    alice, vps, staff, django_capture_on_commit_callbacks
):
    """Must-show 3, account deletion: the same hold stops it, records that it did, and lets it run later."""
    from megalayer.abuse.actions import account_close
    from megalayer.accounts.models import User

    service = _service(alice, vps, django_capture_on_commit_callbacks)
    with clock.travel(T0 + dt.timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        hold = legal_hold_place(staff=staff, service=service, reason="preserve for the prosecutor")
        with pytest.raises(LegalHoldStops):
            account_close(customer=alice, staff=staff, requirement="TOS-VIOLATION-1", note="fraudulent card")
    alice.refresh_from_db()
    service.refresh_from_db()
    assert (alice.status, service.status, User.objects.get(pk=alice.owner_id).is_active) == ("active", "active", True)
    assert AuditEvent.objects.get(action="account.close_held").data["hold"] == hold.public_id
    with clock.travel(T0 + dt.timedelta(days=2)), django_capture_on_commit_callbacks(execute=True):
        legal_hold_release(hold=hold, staff=staff, note="handed over")
        account_close(customer=alice, staff=staff, requirement="TOS-VIOLATION-1", note="fraudulent card")
    alice.refresh_from_db()
    service.refresh_from_db()
    assert (alice.status, service.status, service.reason) == ("closed", "terminated", "violation")
    assert User.objects.get(pk=alice.owner_id).is_active is False
    assert AuditEvent.objects.get(action="account.closed").requirement == "TOS-VIOLATION-1"


def test_staff_place_and_release_a_hold_in_the_back_office(
    staff_client, alice, vps, django_capture_on_commit_callbacks
):
    from megalayer.abuse.models import LegalHold

    service = _service(alice, vps, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/backoffice/legal/holds/",
            {"action": "place", "service": service.public_id, "reason": "preserve for case 9", "order_reference": "c9"},
        )
    hold = LegalHold.objects.get()
    assert (hold.service, hold.order_reference) == (service, "c9")
    assert "preserve for case 9" in staff_client.get("/backoffice/legal/holds/").content.decode()
    staff_client.post("/backoffice/legal/holds/", {"hold": hold.public_id, "note": "over"})
    hold.refresh_from_db()
    assert hold.released_at is not None
    bad = staff_client.post(
        "/backoffice/legal/holds/", {"action": "place", "service": "srv_nope", "reason": "x"}, follow=True
    )
    assert "No such service." in bad.content.decode()
    assert LegalHold.objects.count() == 1
