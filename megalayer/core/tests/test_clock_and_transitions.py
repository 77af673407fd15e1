import datetime as dt

import pytest

from megalayer.core import clock
from megalayer.core.errors import IllegalTransition
from megalayer.notices.choices import NOTICE_STATUS, Status
from megalayer.notices.models import Notice


def test_travel_pins_and_releases_the_clock():
    moment = dt.datetime(2027, 1, 31, 20, 0, tzinfo=dt.UTC)
    with clock.travel(moment):
        assert clock.now() == moment
        assert clock.provider_today() == dt.date(2027, 2, 1)  # Hong Kong is UTC+8
        clock.advance(dt.timedelta(days=1))
        assert clock.now() == moment + dt.timedelta(days=1)
    assert clock.now() != moment


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set_time(dt.datetime(2027, 1, 1))


def test_transition_table_refuses_illegal_moves_naming_both_states():
    NOTICE_STATUS.check(Status.QUEUED, Status.SENDING)
    with pytest.raises(IllegalTransition, match=r"^A Notice cannot move from 'sent' to 'queued'\.$"):
        NOTICE_STATUS.check(Status.SENT, Status.QUEUED)


@pytest.mark.django_db
def test_transition_is_compare_and_set():
    now = clock.now()
    notice = Notice.objects.create(
        kind="terms_changed",
        recipient="a@example.com",
        subject="s",
        body_text="b",
        dedupe_key="k",
        created_at=now,
        next_attempt_at=now,
    )
    stale = Notice.objects.get(pk=notice.pk)
    NOTICE_STATUS.move(notice, Status.SENDING)
    assert Notice.objects.get(pk=notice.pk).status == Status.SENDING
    with pytest.raises(
        IllegalTransition, match=f"^Notice {notice.pk} is no longer 'queued'; it cannot move to 'sending'"
    ):
        NOTICE_STATUS.move(stale, Status.SENDING)
    # The set-based claim: only rows in a source state move, and an illegal source is refused before any SQL.
    rows = Notice.objects.filter(pk=notice.pk)
    assert NOTICE_STATUS.claim(rows, sources=[Status.QUEUED], target=Status.SENDING) == 0
    assert NOTICE_STATUS.claim(rows, sources=[Status.SENDING], target=Status.SENT) == 1
    with pytest.raises(IllegalTransition, match="from 'queued' to 'sent'"):
        NOTICE_STATUS.claim(rows, sources=[Status.QUEUED], target=Status.SENT)
    assert Notice.objects.get(pk=notice.pk).status == Status.SENT


def test_any_to_any_lets_every_state_reach_every_other_and_sources_of_names_who_can_reach_a_state():
    from megalayer.core.transitions import any_to_any
    from megalayer.provisioning.models import Host

    table = any_to_any(Host.Status)
    assert table == {
        "active": frozenset({"draining", "disabled"}),
        "draining": frozenset({"active", "disabled"}),
        "disabled": frozenset({"active", "draining"}),
    }
    assert NOTICE_STATUS.sources_of(Status.FAILED) == ["queued", "sending", "sent"]
