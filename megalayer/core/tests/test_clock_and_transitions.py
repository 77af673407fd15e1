import datetime as dt

import pytest

from megalayer.core import clock
from megalayer.core.errors import IllegalTransition
from megalayer.core.transitions import check_transition, transition
from megalayer.notices.choices import TRANSITIONS, Status
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


def test_transition_table_refuses_illegal_moves():
    check_transition(TRANSITIONS, Status.QUEUED, Status.SENDING)
    with pytest.raises(IllegalTransition):
        check_transition(TRANSITIONS, Status.SENT, Status.QUEUED)


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
    transition(notice, table=TRANSITIONS, target=Status.SENDING)
    assert Notice.objects.get(pk=notice.pk).status == Status.SENDING
    with pytest.raises(IllegalTransition, match="no longer"):
        transition(stale, table=TRANSITIONS, target=Status.SENDING)
