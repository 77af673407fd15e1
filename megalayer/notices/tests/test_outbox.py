import datetime as dt
import email

import pytest
from django.db import transaction

from megalayer.core import clock
from megalayer.notices.actions import notice_create, notice_deliver, notices_deliver_due, retry_delay
from megalayer.notices.models import Notice

pytestmark = pytest.mark.django_db(transaction=True)


def _create(key: str = "k1") -> Notice:
    return notice_create(
        kind="terms_changed",
        recipient="alice@example.com",
        dedupe_key=key,
        subject="Hello",
        body_text="Body",
        body_html="<p>Body</p>",
    )


class Boom(Exception):
    pass


def test_notice_in_a_rolled_back_transaction_is_never_sent(smtp_server):
    with pytest.raises(Boom), transaction.atomic():
        _create()
        raise Boom
    assert Notice.objects.count() == 0
    assert notices_deliver_due() == {"released": 0}
    assert smtp_server.mailbox.messages == []


def test_committed_notice_is_delivered_once_over_smtp(smtp_server):
    with transaction.atomic():
        notice = _create()
        assert smtp_server.mailbox.messages == []  # not before commit
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == ("sent", 1)
    assert len(smtp_server.mailbox.messages) == 1
    message = email.message_from_bytes(smtp_server.mailbox.messages[0].content)
    assert message["Subject"] == "Hello"
    assert message["X-Megalayer-Notice"] == notice.public_id
    assert _create().pk == notice.pk  # same key: the same notice, no second mail
    assert notices_deliver_due() == {"released": 0}
    assert len(smtp_server.mailbox.messages) == 1


def test_failing_smtp_server_leads_to_retries_then_exactly_one_delivery(smtp_server):
    smtp_server.stop()
    start = dt.datetime(2027, 5, 1, 9, 0, tzinfo=dt.UTC)
    with clock.travel(start):
        notice = _create()
        notice.refresh_from_db()
        assert (notice.status, notice.attempts) == ("queued", 1)
        assert "ConnectionRefusedError" in notice.last_error
        assert notice.next_attempt_at == start + retry_delay(1)
        assert notices_deliver_due() == {"released": 0}  # not due yet: nothing attempted
    with clock.travel(start + dt.timedelta(minutes=1)):
        assert notices_deliver_due() == {"released": 0, "queued": 1}  # second failure
    notice.refresh_from_db()
    assert notice.attempts == 2
    assert notice.next_attempt_at == start + dt.timedelta(minutes=1) + retry_delay(2)
    smtp_server.start()
    with clock.travel(start + dt.timedelta(minutes=3)):
        assert notices_deliver_due() == {"released": 0, "sent": 1}
        assert notices_deliver_due() == {"released": 0}
        assert notice_deliver(notice_id=notice.pk) == "skipped"
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_error) == ("sent", 3, "")
    assert len(smtp_server.mailbox.messages) == 1


def test_a_sender_killed_mid_send_is_released_and_retried(smtp_server):
    start = dt.datetime(2027, 5, 1, 9, 0, tzinfo=dt.UTC)
    with clock.travel(start):
        smtp_server.stop()
        notice = _create()
        Notice.objects.filter(pk=notice.pk).update(status="sending", claimed_at=start)  # as a killed worker leaves it
    smtp_server.start()
    with clock.travel(start + dt.timedelta(minutes=5)):
        assert notices_deliver_due() == {"released": 0}
    with clock.travel(start + dt.timedelta(minutes=11)):
        assert notices_deliver_due() == {"released": 1, "sent": 1}
    assert len(smtp_server.mailbox.messages) == 1


def test_backoff_grows_and_is_capped():
    assert [retry_delay(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert retry_delay(30) == dt.timedelta(hours=2)


def test_a_kind_the_code_does_not_know_is_refused_and_each_known_one_has_its_rule():
    from megalayer.notices.choices import REQUIREMENT_OF_KIND, Kind

    with pytest.raises(ValueError, match="unknown notice kind 'nope'"):
        notice_create(kind="nope", recipient="a@example.com", dedupe_key="x", subject="s", body_text="b", body_html="")
    assert not Notice.objects.exists()
    assert set(REQUIREMENT_OF_KIND) == set(Kind.values)  # no kind is sent without naming its requirement
    assert _create().get_kind_display() == "Terms of Service changed"
