"""Issue 14, item 5: only trusted reporters set the abuse desk in motion; a forged complaint waits for a person."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from megalayer.abuse.actions import abuse_deadlines_run, event_confirm, report_receive
from megalayer.abuse.models import AbuseCase, AbuseEvent, TrustedReporter
from megalayer.abuse.tests.test_intake import _arf, network  # noqa: F401 (fixture)
from megalayer.audit.models import AuditEvent
from megalayer.core import clock
from megalayer.network.models import NullRoute
from megalayer.notices.models import Notice

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _without_our_verdict(raw: bytes) -> bytes:
    """The sample complaint as a forger sends it: no Authentication-Results of our mail server."""
    first, rest = raw.split(b"\r\n", 1)
    assert first.startswith(b"Authentication-Results: mx.megalayer.test;")
    return rest


def _receive(raw: bytes, source: str = "mail") -> Any:
    with clock.travel(AT):
        report, _ = report_receive(raw=raw, source=source)
    return report


def test_a_forged_arf_complaint_opens_nothing_and_null_routes_nothing(network, staff):  # noqa: F811
    report = _receive(_without_our_verdict(_arf("203.0.113.45")))
    assert (report.trusted, report.needs_triage) == ("", True)
    event = AbuseEvent.objects.get(report=report)
    assert (event.address, event.confirmed, event.case_id) == ("203.0.113.45", False, None)
    assert AbuseCase.objects.count() == 0
    assert not Notice.objects.filter(kind="abuse_case").exists()
    with clock.travel(AT + dt.timedelta(days=30)):
        assert abuse_deadlines_run()["null_routed"] == 0
    assert NullRoute.objects.count() == 0
    # A person confirms it: now the case opens and the customer is told.
    with clock.travel(AT + dt.timedelta(hours=1)):
        event_confirm(event=event, staff=staff)
    case = AbuseCase.objects.get()
    assert case.service == network["alice"]
    assert Notice.objects.filter(kind="abuse_case", customer=case.customer).count() == 1


@pytest.mark.parametrize(
    "header",
    [
        # Another server's verdict (the sender can write any header it likes).
        "Authentication-Results: mx.elsewhere.example; dkim=pass header.d=complainer.example",
        # Our server, but the signature failed.
        "Authentication-Results: mx.megalayer.test; dkim=fail header.d=complainer.example",
        # Our server, a passing signature of a domain nobody trusts.
        "Authentication-Results: mx.megalayer.test; dkim=pass header.d=attacker.example",
        # A look-alike of a trusted domain is not its subdomain.
        "Authentication-Results: mx.megalayer.test; dkim=pass header.d=evilcomplainer.example",
    ],
)
def test_only_our_servers_pass_for_a_trusted_domain_counts(network, header):  # noqa: F811
    raw = header.encode() + b"\r\n" + _without_our_verdict(_arf("203.0.113.45"))
    report = _receive(raw)
    assert report.trusted == ""
    assert AbuseEvent.objects.get(report=report).confirmed is False
    assert AbuseCase.objects.count() == 0


def test_our_verdict_on_top_wins_over_a_forged_one_below(network):  # noqa: F811
    forged = b"Authentication-Results: mx.megalayer.test; dkim=pass header.d=complainer.example\r\n"
    ours = b"Authentication-Results: mx.megalayer.test; dkim=fail header.d=complainer.example\r\n"
    report = _receive(ours + forged + _without_our_verdict(_arf("203.0.113.45")))
    assert report.trusted == ""
    assert AbuseCase.objects.count() == 0


def test_a_trusted_reporters_subdomain_and_dmarc_pass_count(network):  # noqa: F811
    dmarc = b"Authentication-Results: mx.megalayer.test; spf=pass; dmarc=pass header.from=fbl.complainer.example\r\n"
    report = _receive(dmarc + _without_our_verdict(_arf("203.0.113.45")))
    assert report.trusted == "trusted reporter Complainer: fbl.complainer.example verified by our mail server"
    assert AbuseCase.objects.get().service == network["alice"]
    audit = AuditEvent.objects.get(action="abuse.report_received")
    assert audit.data["trusted"] == report.trusted


def test_staff_submissions_are_trusted(network):  # noqa: F811
    report = _receive(_without_our_verdict(_arf("203.0.113.45")), source="staff")
    assert report.trusted == "submitted by staff (staff)"
    assert AbuseCase.objects.count() == 1


def test_staff_add_and_remove_trusted_reporters_in_the_back_office(staff_client, network):  # noqa: F811
    page = "/backoffice/abuse/reporters/"
    refused = staff_client.post(page, {"domain": "not a domain", "name": "X"}, follow=True)
    assert "Give the reporter&#x27;s mail domain" in refused.content.decode()
    assert not TrustedReporter.objects.filter(name="X").exists()
    staff_client.post(page, {"domain": "SpamCop.NET.", "name": "SpamCop", "note": "long-standing"})
    added = TrustedReporter.objects.get(domain="spamcop.net")
    assert (added.name, added.note) == ("SpamCop", "long-standing")
    assert "spamcop.net" in staff_client.get(page).content.decode()
    staff_client.post(page, {"action": "remove", "reporter": added.pk, "note": ""})
    assert TrustedReporter.objects.filter(domain="spamcop.net").exists()  # no reason given: nothing changed
    staff_client.post(page, {"action": "remove", "reporter": added.pk, "note": "forwards unverified mail"})
    assert not TrustedReporter.objects.filter(domain="spamcop.net").exists()
    actions = list(AuditEvent.objects.filter(target_id="spamcop.net").order_by("id").values_list("action", flat=True))
    assert actions == ["abuse.reporter_trusted", "abuse.reporter_untrusted"]


def test_customers_cannot_open_the_trusted_reporters_page(alice_client):
    assert alice_client.get("/backoffice/abuse/reporters/").status_code in (302, 403, 404)
    assert TrustedReporter.objects.filter(domain="spamcop.net").count() == 0
    assert Client().post("/backoffice/abuse/reporters/", {"domain": "x.example", "name": "X"}).status_code == 302
    assert not TrustedReporter.objects.filter(domain="x.example").exists()
