"""A sender killed (SIGKILL) while its webhook request is in flight: after the lease the sweep sends the event
again with the same id, and the receiver, keyed on that id, handles it exactly once (issue 20). Real
processes on SQLite and PostgreSQL, a real HTTP receiver."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from megalayer.testing_platform import READY_BOUND, ROOT, Platform, wait_until
from megalayer.webhooks.tests.conftest import documented_verify
from megalayer.webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.slow
AT = "2027-03-01T12:00:00+00:00"

SETUP = """
import json
from megalayer.accounts.models import User
from megalayer.webhooks.actions import endpoint_create
staff = User.objects.create_user("ops@megalayer.test", None, is_staff=True, staff_roles=["admin"])
endpoint, secret = endpoint_create(staff=staff, url={url!r}, events=["payment.received"])
print(json.dumps({{"secret": secret}}))
"""

EMIT = """
import datetime as dt
from django.db import transaction
from megalayer.core import clock
from megalayer.core.events import event_emit
with clock.travel(dt.datetime.fromisoformat({at!r})):
    with transaction.atomic():
        event_emit("payment.received", subject_id="pay_kill", customer_id="cus_kill", data={{"amount": "5.00"}})
"""

SWEEP = """
import datetime as dt, json
from megalayer.core import clock
from megalayer.webhooks.actions import webhooks_deliver_due
from megalayer.webhooks.models import Delivery
with clock.travel(dt.datetime.fromisoformat({at!r}) + dt.timedelta(minutes={minutes})):
    result = webhooks_deliver_due()
d = Delivery.objects.get()
print(json.dumps({{"result": result, "status": d.status, "attempts": d.attempts,
                  "recorded": d.attempt_rows.count(), "event": d.event_id}}))
"""


def test_a_sender_killed_mid_request_leads_to_one_handling_per_event(platform: Platform, receiver: Receiver) -> None:
    platform.env["MEGALAYER_WEBHOOK_ALLOW_NETWORKS"] = "127.0.0.0/8"
    secret = platform.shell(SETUP.format(url=receiver.url))["secret"]
    receiver.hold = receiver.arrived  # the first request waits: the sender is killed while it is in flight
    sender = subprocess.Popen(
        [sys.executable, "-m", "megalayer.cli", "shell", "-c", EMIT.format(at=AT)],
        env=platform.env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: receiver.arrived.is_set() or None, "the webhook request to reach the receiver")
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=READY_BOUND)
    finally:
        if sender.poll() is None:
            sender.kill()
    receiver.hold = None
    receiver.release.set()  # the killed sender's request ends; it was answered 200 to nobody
    early = platform.shell(SWEEP.format(at=AT, minutes=1))
    assert (early["result"], early["status"]) == ({"released": 0}, "sending")  # the lease still runs
    after = platform.shell(SWEEP.format(at=AT, minutes=3))
    assert after["result"] == {"released": 1, "delivered": 1}
    assert (after["status"], after["attempts"], after["recorded"]) == ("delivered", 2, 1)
    assert receiver.event_ids() == [after["event"], after["event"]]  # sent twice, same id
    assert receiver.handled == [after["event"]]  # handled once
    verify = documented_verify()
    for request in receiver.requests:
        assert verify(secret, request.body, request.headers["Megalayer-Signature"], now=None, tolerance=10**9)
