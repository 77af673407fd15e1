"""Operations: the row is the truth; retries with back-off; terminal errors fail at once and tell staff;
a retried or re-claimed create never makes a second machine (issue 5, must-show 5); the service's
lifecycle runs through operations (provision, suspend, resume, destroy with wipe, addresses released)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from django.core import mail

from megalayer.audit.actions import Actor
from megalayer.billing.tests.conftest import fund
from megalayer.core import clock
from megalayer.network.models import IpAssignment
from megalayer.notices.models import Notice
from megalayer.orders.actions import order_place
from megalayer.provisioning.actions import operation_retry, password_reveal
from megalayer.provisioning.actions import runner as actions
from megalayer.provisioning.actions.hosts import host_reconcile
from megalayer.provisioning.actions.runner import operations_run_due, retry_delay
from megalayer.provisioning.drivers.sandbox import sandbox_fault_add
from megalayer.provisioning.models import Operation, SandboxMachine, Server
from megalayer.services.actions import service_suspend, service_terminate, service_unsuspend
from megalayer.services.models import Service
from megalayer.services.tests.conftest import with_billing

pytestmark = pytest.mark.django_db
CUSTOMER = Actor.system("test customer")
STAFF_ACTOR = Actor.system("test staff")
T0 = dt.datetime(2027, 5, 3, 2, 0, tzinfo=dt.UTC)


def _order(customer: Any, vps: Any, capture: Any) -> Service:
    with_billing(customer)
    fund(customer, "10.00")
    with capture(execute=True):
        order_place(customer=customer, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER)
    return Service.objects.get(customer=customer)


def test_a_paid_order_builds_one_server_with_its_addresses_and_activates(
    alice, vps, django_capture_on_commit_callbacks
):
    with clock.travel(T0):
        service = _order(alice, vps, django_capture_on_commit_callbacks)
    service.refresh_from_db()
    assert service.status == "active"
    server = Server.objects.get(service=service)
    assert (server.host.name, server.power, server.built_at) == ("hkg-sandbox-1", "running", T0)
    machine = SandboxMachine.objects.get(pool="hkg", name=server.name)
    assert (machine.image, machine.vcpus, machine.memory_mib) == ("debian-12", 2, 2048)
    assert list(IpAssignment.objects.filter(service=service).values_list("address", flat=True)) == ["198.18.0.2"]
    create = Operation.objects.get(service=service, kind="create")
    assert (create.status, create.attempts) == ("succeeded", 1)
    activation = Notice.objects.get(kind="service_activated", customer=alice)
    assert "198.18.0.2" in activation.body_text
    assert "root password is shown once" in activation.body_text
    assert "correct" not in activation.body_text  # no password in any e-mail
    password = password_reveal(service=service, actor=CUSTOMER).password
    assert len(password) == 20
    assert password not in activation.body_text
    with pytest.raises(Exception, match="shown already"):
        password_reveal(service=service, actor=CUSTOMER)
    assert Operation.objects.get(pk=create.pk).secrets == {}


def test_two_retryable_failures_then_success_leave_one_server_and_three_attempts(
    alice, vps, django_capture_on_commit_callbacks
):
    """Must-show 5, first half."""
    sandbox_fault_add(pool="hkg", action="create", error="retryable", times=2, message="host busy")
    with clock.travel(T0):
        service = _order(alice, vps, django_capture_on_commit_callbacks)
    create = Operation.objects.get(service=service, kind="create")
    assert (create.status, create.attempts, create.next_attempt_at) == ("pending", 1, T0 + retry_delay(1))
    assert Service.objects.get(pk=service.pk).status == "provisioning"
    with clock.travel(T0 + dt.timedelta(seconds=5)):
        assert operations_run_due()["released"] == 0
        assert Operation.objects.get(pk=create.pk).attempts == 1  # not due yet: nothing ran
    with clock.travel(T0 + retry_delay(1)), django_capture_on_commit_callbacks(execute=True):
        operations_run_due()
    create.refresh_from_db()
    assert (create.status, create.attempts) == ("pending", 2)
    with clock.travel(T0 + retry_delay(1) + retry_delay(2)), django_capture_on_commit_callbacks(execute=True):
        operations_run_due()
    create.refresh_from_db()
    assert (create.status, create.attempts, create.error) == ("succeeded", 3, "")
    assert [line["message"] for line in create.log if "failed" in line["message"]] == [
        "attempt 1 failed (RetryableError: host busy); next in 15 s",
        "attempt 2 failed (RetryableError: host busy); next in 30 s",
    ]
    assert SandboxMachine.objects.filter(name=Server.objects.get(service=service).name).count() == 1
    assert Service.objects.get(pk=service.pk).status == "active"
    assert Notice.objects.filter(kind="operation_failed").count() == 0


def test_a_terminal_error_fails_at_once_and_tells_staff(alice, vps, django_capture_on_commit_callbacks, settings):
    """Must-show 5, second half."""
    sandbox_fault_add(pool="hkg", action="create", error="terminal", times=1, message="image missing on host")
    with clock.travel(T0):
        service = _order(alice, vps, django_capture_on_commit_callbacks)
    create = Operation.objects.get(service=service, kind="create")
    assert (create.status, create.attempts) == ("failed", 1)
    assert create.error == "TerminalError: image missing on host"
    assert create.secrets == {}
    assert Service.objects.get(pk=service.pk).status == "failed"
    assert SandboxMachine.objects.count() == 0
    alert = Notice.objects.get(kind="operation_failed")
    assert alert.recipient == settings.MEGALAYER_STAFF_ALERT_EMAIL
    assert create.public_id in alert.subject
    assert "image missing on host" in alert.body_text
    assert any(m.to == [settings.MEGALAYER_STAFF_ALERT_EMAIL] for m in mail.outbox)
    # Staff retry: the service goes back to provisioning and is built.
    from megalayer.accounts.models import User

    staff = User.objects.create_user(email="ops@megalayer.test", password="x" * 12, is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        operation_retry(operation=create, staff=staff)
    create.refresh_from_db()
    assert (create.status, create.attempts) == ("succeeded", 2)
    assert Service.objects.get(pk=service.pk).status == "active"


def test_retryable_errors_stop_at_the_limit(alice, vps, django_capture_on_commit_callbacks):
    sandbox_fault_add(pool="hkg", action="create", error="retryable", times=99)
    with clock.travel(T0):
        service = _order(alice, vps, django_capture_on_commit_callbacks)
    at = T0
    for attempt in range(1, 5):
        at += retry_delay(attempt)
        with clock.travel(at), django_capture_on_commit_callbacks(execute=True):
            operations_run_due()
    create = Operation.objects.get(service=service, kind="create")
    assert (create.status, create.attempts) == ("failed", 5)
    assert "after 5 attempts" in create.error
    assert Notice.objects.filter(kind="operation_failed").count() == 1


def test_a_worker_killed_after_the_driver_call_does_not_make_a_second_machine(
    alice, vps, django_capture_on_commit_callbacks, monkeypatch
):
    """The driver built the machine, then the worker died before writing the outcome: the lease expires,
    the sweep runs the create again, and the driver's idempotent create finds the machine."""
    real = actions._succeed
    monkeypatch.setattr(actions, "_succeed", lambda *a, **k: (_ for _ in ()).throw(SystemExit("kill -9")))
    with clock.travel(T0), contextlib.suppress(SystemExit):  # the task backend may swallow it, as a dead worker
        _order(alice, vps, django_capture_on_commit_callbacks)
    service = Service.objects.get(customer=alice)
    create = Operation.objects.get(service=service, kind="create")
    assert (create.status, create.attempts) == ("running", 1)
    assert SandboxMachine.objects.count() == 1
    monkeypatch.setattr(actions, "_succeed", real)
    with clock.travel(T0 + dt.timedelta(minutes=1)):
        assert operations_run_due() == {"released": 0}  # the lease still holds
    with clock.travel(T0 + dt.timedelta(minutes=5)), django_capture_on_commit_callbacks(execute=True):
        assert operations_run_due() == {"released": 1, "succeeded": 1}
    create.refresh_from_db()
    assert (create.status, create.attempts) == ("succeeded", 2)
    assert SandboxMachine.objects.count() == 1
    assert Service.objects.get(pk=service.pk).status == "active"


def test_suspension_recovery_and_termination_go_through_the_server(alice, vps, django_capture_on_commit_callbacks):
    with clock.travel(T0):
        service = _order(alice, vps, django_capture_on_commit_callbacks)
    server = Server.objects.get(service=service)
    with django_capture_on_commit_callbacks(execute=True):
        service_suspend(service=service, reason="staff", actor=STAFF_ACTOR, requirement="TOS-ABUSE-2")
    assert SandboxMachine.objects.get(name=server.name).network_suspended is True
    assert Server.objects.get(pk=server.pk).network_suspended is True
    with django_capture_on_commit_callbacks(execute=True):
        service_unsuspend(service=service, actor=STAFF_ACTOR, requirement="TOS-ABUSE-2")
    assert SandboxMachine.objects.get(name=server.name).network_suspended is False
    sandbox_fault_add(pool="hkg", action="destroy", error="retryable", times=1)
    with clock.travel(T0 + dt.timedelta(days=2)), django_capture_on_commit_callbacks(execute=True):
        service_terminate(service=service, reason="staff", actor=STAFF_ACTOR, requirement="TOS-VIOLATION-1")
    service.refresh_from_db()
    assert service.status == "terminating"  # the destroy is being retried: not deleted yet
    assert not Notice.objects.filter(kind="service_terminated").exists()
    assert IpAssignment.objects.get(service=service).released_at is None
    later = T0 + dt.timedelta(days=2) + retry_delay(1)
    with clock.travel(later), django_capture_on_commit_callbacks(execute=True):
        operations_run_due()
    service.refresh_from_db()
    assert (service.status, service.data_deleted_at) == ("terminated", later)
    server.refresh_from_db()
    assert (server.destroyed_at, server.disk_wiped) == (later, True)
    assert not SandboxMachine.objects.filter(name=server.name).exists()
    assignment = IpAssignment.objects.get(service=service)
    assert assignment.released_at == later
    assert Notice.objects.filter(kind="service_terminated", customer=alice).count() == 1
    assert list(service.operations.order_by("pk").values_list("kind", "status")) == [
        ("create", "succeeded"),
        ("suspend", "succeeded"),
        ("resume", "succeeded"),
        ("destroy", "succeeded"),
    ]


def test_no_free_address_fails_provisioning_with_nothing_half_allocated(alice, vps, django_capture_on_commit_callbacks):
    from megalayer.network.models import Prefix

    Prefix.objects.filter(cidr="198.18.0.0/22").update(status="retired")
    with clock.travel(T0):
        service = _order(alice, vps, django_capture_on_commit_callbacks)
    service.refresh_from_db()
    assert service.status == "failed"
    assert not Server.objects.filter(service=service).exists()
    assert not IpAssignment.objects.exists()
    assert (
        service.events.values_list("note", flat=True).last()
        == "No free address is left in this location and network tier."
    )


def test_reconciliation_reports_drift_without_touching_machines(alice, vps, django_capture_on_commit_callbacks):
    with clock.travel(T0):
        service = _order(alice, vps, django_capture_on_commit_callbacks)
    server = Server.objects.get(service=service)
    SandboxMachine.objects.create(pool="hkg", name="stray-vm", power="running", image="x", disk_id="d", created_at=T0)
    SandboxMachine.objects.filter(name=server.name).update(power="stopped")
    drift = host_reconcile(host=server.host)
    assert drift == [
        {"kind": "unknown_machine", "server": "stray-vm", "detail": "on the host, not in the database"},
        {"kind": "power", "server": server.name, "detail": "host says stopped, database running"},
    ]
    assert Server.objects.get(pk=server.pk).power == "stopped"
    assert SandboxMachine.objects.filter(name="stray-vm").exists()  # reported, not destroyed
    SandboxMachine.objects.filter(name=server.name).delete()
    assert host_reconcile(host=server.host)[-1]["kind"] == "missing_machine"


def test_extra_ipv4_add_ons_come_from_the_same_pool(alice, vps, django_capture_on_commit_callbacks):
    from decimal import Decimal

    from megalayer.catalog.models import AddOn

    extra = AddOn.objects.create(code="ipv4", name="Extra IPv4 address", kind="ipv4", monthly_amount=Decimal("0"))
    extra.products.add(vps)
    with_billing(alice)
    fund(alice, "10.00")
    with clock.travel(T0), django_capture_on_commit_callbacks(execute=True):
        order_place(customer=alice, product=vps, cycle="monthly", os_image=None, actor=CUSTOMER, add_ons={"ipv4": 2})
    service = Service.objects.get(customer=alice)
    held = list(IpAssignment.objects.filter(service=service).order_by("pk").values_list("address", "prefix__cidr"))
    assert held == [("198.18.0.2", "198.18.0.0/22"), ("198.18.0.3", "198.18.0.0/22"), ("198.18.0.4", "198.18.0.0/22")]
    assert service.status == "active"
