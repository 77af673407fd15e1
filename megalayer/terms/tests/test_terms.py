import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from megalayer.audit.actions import Actor
from megalayer.audit.models import AuditEvent
from megalayer.core import clock
from megalayer.core.errors import InvalidInput
from megalayer.notices.models import Notice
from megalayer.terms.actions import terms_publish
from megalayer.terms.models import TermsAcceptance, TermsVersion
from megalayer.terms.policy import default_policy_data
from megalayer.terms.queries import parse_clause_headings, policy_at

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)


def _publish_v2(effective_at: dt.datetime, fee: str = "7.50", free: int = 2) -> TermsVersion:
    policy = default_policy_data()
    policy["reinstall"] = {"free_per_month": free, "fee": {"amount": fee, "currency": "USD"}}
    return terms_publish(
        body="Megalayer Terms of Service\n\nService Term\n\nServices run from payment until expiry.\n",
        summary="Reinstall fee changes.",
        update_date=effective_at.date(),
        effective_at=effective_at,
        policy=policy,
        actor=Actor.system("test"),
    )


def test_policy_at_switches_at_the_effective_time(terms_v1):
    with clock.travel(T0):
        _publish_v2(T0 + dt.timedelta(days=30))
    before = policy_at(T0 + dt.timedelta(days=29, hours=23, minutes=59))
    after = policy_at(T0 + dt.timedelta(days=30))
    assert (before.reinstall.free_per_month, before.reinstall.fee.money().amount) == (1, Decimal("5.00"))
    assert (after.reinstall.free_per_month, after.reinstall.fee.money().amount) == (2, Decimal("7.50"))
    assert before.renewal.reminder_days_before == [7, 3, 1]
    assert (before.expiry.suspend_after_days, before.expiry.delete_after_days) == (1, 7)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("reinstall", "fee"), {"amount": "-1", "currency": "USD"}, "policy.reinstall.fee.amount"),
        (("reinstall", "free_per_month"), "many", "policy.reinstall.free_per_month"),
        (("expiry", "delete_after_days"), 0, "policy.expiry"),
        (("renewal", "reminder_days_before"), [3, 3], "policy.renewal.reminder_days_before"),
        (("reinstall", "unknown"), 1, "policy.reinstall.unknown"),
    ],
)
def test_invalid_policy_is_refused_with_a_field_error(terms_v1, path, value, field):
    policy = default_policy_data()
    policy[path[0]][path[1]] = value
    with pytest.raises(InvalidInput) as refused:
        terms_publish(
            body="x",
            summary="y",
            update_date=dt.date(2027, 1, 1),
            effective_at=clock.now() + dt.timedelta(days=1),
            policy=policy,
            actor=Actor.system(),
        )
    assert refused.value.field == field
    assert TermsVersion.objects.count() == 1


def test_publishing_records_an_audit_event_and_mails_customers_once(
    alice, bob, vps, django_capture_on_commit_callbacks
):
    from megalayer.conftest import make_customer
    from megalayer.services.models import Service

    for customer in (alice, bob):  # customers with services in use are e-mailed; carol has none
        Service.objects.create(
            customer=customer,
            product=vps,
            status="active",
            cycle="monthly",
            recurring_amount=Decimal("10"),
            currency="USD",
            anchor_day=1,
            paid_until=clock.now() + dt.timedelta(days=20),
            created_at=clock.now(),
        )
    make_customer("carol@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        version = _publish_v2(clock.now() + dt.timedelta(days=30))
    event = AuditEvent.objects.get(action="terms.publish", target_id="2")
    assert (event.requirement, event.terms_version) == ("TOS-ACCEPT-2", 2)
    notices = Notice.objects.filter(kind="terms_changed").order_by("recipient")
    assert [n.recipient for n in notices] == ["alice@example.com", "bob@example.com"]
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    assert "Reinstall fee changes." in mail.outbox[0].body
    from megalayer.notices.actions import notices_terms_changed

    with django_capture_on_commit_callbacks(execute=True):
        notices_terms_changed(version=version)  # a retried job
    assert Notice.objects.filter(kind="terms_changed").count() == 2
    assert len(mail.outbox) == 2


def test_effective_time_in_the_past_is_refused(terms_v1):
    with pytest.raises(InvalidInput) as refused:
        _publish_v2(clock.now() - dt.timedelta(days=1))
    assert refused.value.field == "effective_at"
    assert TermsVersion.objects.count() == 1


def test_superseded_customer_sees_diff_and_continued_use_is_recorded(alice):
    client = Client(HTTP_USER_AGENT="Firefox/130", REMOTE_ADDR="198.51.100.7")
    client.force_login(alice.owner)
    with clock.travel(T0):
        _publish_v2(T0 + dt.timedelta(days=30))
        page = client.get("/account/")
        assert b"takes effect on" in page.content
        diff = client.get("/terms/changes/")
        assert b"+ Services run from payment until expiry." in diff.content
        assert "− Services run from payment.".encode() in diff.content
        assert not TermsAcceptance.objects.filter(user=alice.owner, version__number=2).exists()
    with clock.travel(T0 + dt.timedelta(days=30, seconds=1)):
        page = client.get("/account/")
        acceptance = TermsAcceptance.objects.get(user=alice.owner, version__number=2)
        assert acceptance.method == "continued_use"
        assert (acceptance.ip_address, acceptance.user_agent) == ("198.51.100.7", "Firefox/130")
        assert acceptance.accepted_at == T0 + dt.timedelta(days=30, seconds=1)
        assert b"by continuing to use our services you accept them" in page.content
        client.post("/terms/changes/")
        acceptance.refresh_from_db()
        assert acceptance.changes_seen_at is not None
        assert b"by continuing to use" not in client.get("/account/").content
        client.get("/account/")
        assert TermsAcceptance.objects.filter(user=alice.owner, version__number=2).count() == 1


def test_terms_page_shows_current_version_update_date_and_history(terms_v1):
    with clock.travel(T0):
        _publish_v2(T0 + dt.timedelta(days=1))
    with clock.travel(T0 + dt.timedelta(days=2)):
        page = Client().get("/terms/").content.decode()
        assert "Version 2 · last updated 2 March 2027" in page
        assert '<a href="/terms/v/1/">v1</a>' in page
        assert '<a href="/terms/v/2/">v2</a>' in page
        old = Client().get("/terms/v/1/").content.decode()
        assert "not the current version" in old
        assert Client().get("/terms/v/9/").status_code == 404


def test_clause_headings_are_parsed_from_the_real_terms():
    from megalayer.cli.management.commands.demo import TERMS_V1

    headings = [h["heading"] for h in parse_clause_headings(TERMS_V1.read_text())]
    for expected in [
        "Customer Obligations",
        "Service Term",
        "Technical Services",
        "Network and IP Abuse",
        "Data Security",
        "Payment and Refund Policy",
        "Account and others",
        "Terms of Service Changes",
    ]:
        assert expected in headings
