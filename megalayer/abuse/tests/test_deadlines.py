"""Must-show 2: a spam case with no answer by the deadline null-routes the IP automatically (and only that
IP), tells the customer, and writes an audit event naming the case and TOS-ABUSE-2; an answered case waits."""

from __future__ import annotations

import datetime as dt

import pytest

from megalayer.abuse.actions import abuse_deadlines_run, case_answer, report_receive
from megalayer.abuse.models import AbuseCase
from megalayer.abuse.tests.test_intake import _arf, network  # noqa: F401 - the fixture
from megalayer.audit.models import AuditEvent
from megalayer.core import clock
from megalayer.network.announcers import RecordingAnnouncer
from megalayer.network.models import NullRoute
from megalayer.notices.models import Notice

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def test_an_unanswered_spam_case_null_routes_only_its_address(network, django_capture_on_commit_callbacks):  # noqa: F811
    with clock.travel(NOW):
        report_receive(raw=_arf("203.0.113.45"), source="mail")
        report_receive(raw=_arf("2001:db8:4a2::99"), source="mail")  # bob's own case
    alice_case = AbuseCase.objects.get(service=network["alice"])
    bob_case = AbuseCase.objects.get(service=network["bob"])
    with clock.travel(NOW + dt.timedelta(hours=2)):
        case_answer(case=bob_case, customer=bob_case.customer, body="Closed the open relay.", author="bob")
    with clock.travel(NOW + dt.timedelta(hours=23, minutes=59)):
        assert abuse_deadlines_run() == {"escalated": 0, "null_routed": 0, "repeat_offences": 0, "holds_ending": 0}
    with clock.travel(NOW + dt.timedelta(hours=24, minutes=5)), django_capture_on_commit_callbacks(execute=True):
        assert abuse_deadlines_run() == {"escalated": 1, "null_routed": 1, "repeat_offences": 0, "holds_ending": 0}
        assert abuse_deadlines_run() == {
            "escalated": 0,
            "null_routed": 0,
            "repeat_offences": 0,
            "holds_ending": 0,
        }  # once
    route = NullRoute.objects.get()
    assert (route.address, route.requirement, route.case_reference) == (
        "203.0.113.45",
        "TOS-ABUSE-2",
        alice_case.public_id,
    )
    assert RecordingAnnouncer.sent[-1] == "announce 203.0.113.45/32 community 65535:666"
    alice_case.refresh_from_db()
    bob_case.refresh_from_db()
    assert (alice_case.status, bob_case.status) == ("escalated", "answered")
    event = AuditEvent.objects.get(action="abuse.deadline_passed")
    assert (event.target_id, event.requirement, event.data["null_routed"]) == (
        alice_case.public_id, "TOS-ABUSE-2", ["203.0.113.45"],
    )  # fmt: skip
    null_route_event = AuditEvent.objects.get(action="ip.null_route")
    assert (null_route_event.requirement, null_route_event.data["case"]) == ("TOS-ABUSE-2", alice_case.public_id)
    told = Notice.objects.get(kind="abuse_deadline")
    assert told.customer == alice_case.customer
    assert "203.0.113.45" in told.body_text
    assert "2001:db8:4a2::15" not in told.body_text


def test_a_category_the_terms_do_not_name_is_escalated_without_a_null_route(network):  # noqa: F811
    from megalayer.abuse.tests.test_intake import _xarf

    raw = _xarf({"ReportClass": "Activity", "ReportType": "PortScan", "SourceIp": "198.51.100.23",
                 "Date": "2026-11-25T01:00:00Z"})  # fmt: skip
    with clock.travel(NOW):
        report_receive(raw=raw, source="mail")
    with clock.travel(NOW + dt.timedelta(days=2)):
        assert abuse_deadlines_run() == {"escalated": 1, "null_routed": 0, "repeat_offences": 0, "holds_ending": 0}
    assert not NullRoute.objects.exists()
