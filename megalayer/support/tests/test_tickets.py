"""The support desk (issue 6, must-shows 1, 2 and 5): a ticket end to end over a real local SMTP server,
replies by e-mail threaded with the quote stripped, strangers refused, idle tickets closed; another
customer sees nothing; Markdown renders inert."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from megalayer.conftest import bearer, sign_in_staff
from megalayer.core import clock
from megalayer.core.signed_hooks import sign
from megalayer.notices.actions import notices_deliver_due
from megalayer.support.markdown import render_markdown
from megalayer.support.models import Attachment, Ticket, TicketMessage
from megalayer.testing_platform import wait_until

SECRET = "inbound-secret"
T0 = dt.datetime(2027, 10, 4, 9, 0, tzinfo=dt.UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _inbound(settings):
    settings.MEGALAYER_INBOUND_MAIL_SECRET = SECRET


def _mail_in(raw: bytes) -> Any:
    return Client().post(
        "/api/v1/hooks/inbound-mail", raw, content_type="message/rfc822", HTTP_X_MEGALAYER_SIGNATURE=sign(raw, SECRET)
    )


def _received(smtp_server: Any, count: int) -> list[EmailMessage]:
    wait_until(lambda: len(smtp_server.mailbox.messages) >= count, f"{count} mail(s) at the local SMTP server")
    return [email.message_from_bytes(m.content, policy=policy.default) for m in smtp_server.mailbox.messages]


def _reply(to: str, sender: str, body: str, quoted: str, message_id: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Alice Chen <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: [tkt] Server unreachable"
    message["Message-ID"] = message_id
    quote = "\n".join(f"> {line}" for line in quoted.splitlines())
    message.set_content(
        f"{body}\n\nOn Mon, 4 Oct 2027 at 10:00, Megalayer <support@megalayer.example> wrote:\n{quote}\n"
    )
    message.add_attachment(b"ping 203.0.113.2: 100% loss\n", maintype="text", subtype="plain", filename="ping.txt")
    return message.as_bytes()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_ticket_end_to_end_over_smtp(alice, staff, smtp_server, settings, terms_v1):
    """Must-show 1."""
    settings.MEGALAYER_STAFF_ALERT_EMAIL = "noc@megalayer.example"
    customer = Client()
    customer.force_login(alice.owner)
    with clock.travel(T0):
        opened = customer.post(
            "/account/tickets/new/",
            {
                "department": "technical",
                "subject": "Server unreachable",
                "body": "My server does not answer since **09:00**.",
                "attachments": [SimpleUploadedFile("screen.png", PNG, content_type="image/png")],
            },
        )
    ticket = Ticket.objects.get()
    assert opened["Location"] == f"/account/tickets/{ticket.public_id}/"
    assert Attachment.objects.get().name == "screen.png"
    staff_client = Client()
    sign_in_staff(staff_client, staff)
    with clock.travel(T0 + dt.timedelta(hours=1)):
        staff_client.post(
            f"/backoffice/tickets/{ticket.public_id}/",
            {"action": "reply", "internal": "yes", "body": "Host hkg-3 had a flapping link."},
        )
        staff_client.post(
            f"/backoffice/tickets/{ticket.public_id}/",
            {"action": "reply", "body": "We fixed a link fault. Can you reach the server now?"},
        )
        notices_deliver_due()
    ticket.refresh_from_db()
    assert ticket.status == "answered"
    mails = _received(smtp_server, 3)
    to_alice = [m for m in mails if m["To"] == "alice@example.com"]
    assert [m["Subject"] for m in to_alice] == [
        f"[{ticket.public_id}] Server unreachable: received",
        f"[{ticket.public_id}] Server unreachable",
    ]
    answer = to_alice[1]
    plain = answer.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "We fixed a link fault" in text
    assert "flapping link" not in text  # the internal note never reaches the customer
    reply_to = str(answer["Reply-To"])
    assert reply_to.startswith(f"support+{ticket.public_id}.")
    assert any(m["To"] == "noc@megalayer.example" for m in mails)  # staff were told of the new ticket
    # Alice answers by e-mail; the quote is stripped and the attachment kept.
    raw = _reply(reply_to, "alice@example.com", "Yes, it works again. Thanks!", text, "<r1@example.com>")
    with clock.travel(T0 + dt.timedelta(hours=2)):
        assert _mail_in(raw).json() == {"outcome": "ticket reply"}
        assert _mail_in(raw).json() == {"outcome": "duplicate"}
    last = TicketMessage.objects.filter(ticket=ticket).order_by("-id").first()
    assert last is not None
    assert (last.body, last.via, last.author_email) == ("Yes, it works again. Thanks!", "email", "alice@example.com")
    assert [a.name for a in last.attachments.all()] == ["ping.txt"]
    ticket.refresh_from_db()
    assert ticket.status == "customer_reply"
    # A stranger writing to the same address is refused and creates nothing.
    before = TicketMessage.objects.count()
    stranger = _reply(reply_to, "mallory@example.org", "Close my ticket", "", "<r2@example.org>")
    assert _mail_in(stranger).json() == {"outcome": "refused: not a contact of the ticket"}
    forged = _reply(
        f"support+{ticket.public_id}.000000000000@megalayer.example", "alice@example.com", "x", "", "<r3@x>"
    )
    assert _mail_in(forged).json() == {"outcome": "refused: bad reference"}
    assert TicketMessage.objects.count() == before
    # Staff answer again; the customer stays silent; seven days later the ticket closes with a notice.
    with clock.travel(T0 + dt.timedelta(hours=3)):
        staff_client.post(f"/backoffice/tickets/{ticket.public_id}/", {"action": "reply", "body": "Glad to hear."})
    from megalayer.support.actions import tickets_auto_close

    with clock.travel(T0 + dt.timedelta(days=7, hours=2)):
        assert tickets_auto_close() == 0
    with clock.travel(T0 + dt.timedelta(days=7, hours=3)):
        assert tickets_auto_close() == 1
        notices_deliver_due()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at) == ("closed", T0 + dt.timedelta(days=7, hours=3))
    closed_mail = _received(smtp_server, 6)[-1]
    assert closed_mail["Subject"] == f"[{ticket.public_id}] Server unreachable: closed"


@pytest.mark.django_db
def test_another_customer_sees_no_ticket_and_no_file(alice, bob, terms_v1):
    """Must-show 2: 404 on the page, the API and the file URL; internal notes and their files stay hidden."""
    owner = Client()
    owner.force_login(alice.owner)
    owner.post(
        "/account/tickets/new/",
        {
            "department": "billing",
            "subject": "Invoice question",
            "body": "Hello",
            "attachments": [SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 test", content_type="application/pdf")],
        },
    )
    ticket = Ticket.objects.get()
    attachment = Attachment.objects.get()
    page = f"/account/tickets/{ticket.public_id}/"
    file_url = f"{page}files/{attachment.public_id}/"
    assert owner.get(page).status_code == 200
    download = owner.get(file_url)
    assert (download.status_code, download["Content-Type"]) == (200, "application/octet-stream")
    assert download.getvalue() == b"%PDF-1.4 test"
    other = Client()
    other.force_login(bob.owner)
    assert other.get(page).status_code == 404
    assert other.get(file_url).status_code == 404
    assert other.post(page, {"action": "reply", "body": "mine now"}).status_code == 404
    api = f"/api/v1/tickets/{ticket.public_id}"
    headers = bearer(bob.owner)
    assert Client().get(api, **headers).status_code == 404
    assert Client().get(f"{api}/attachments/{attachment.public_id}", **headers).status_code == 404
    reply = Client().post(f"{api}/messages", json.dumps({"body": "x"}), content_type="application/json", **headers)
    assert reply.status_code == 404
    assert Client().get("/api/v1/tickets", **headers).json()["items"] == []
    assert TicketMessage.objects.count() == 1
    mine = Client().get(api, **bearer(alice.owner)).json()
    assert mine["messages"][0]["attachments"][0]["name"] == "invoice.pdf"


@pytest.mark.django_db
def test_attachments_are_limited_by_type_and_size(alice, settings, terms_v1):
    settings.MEGALAYER_ATTACHMENT_MAX_BYTES = 1024
    client = Client()
    client.force_login(alice.owner)
    for upload, error in (
        (SimpleUploadedFile("run.exe", b"MZ", content_type="application/octet-stream"), "run.exe: allowed are"),
        (SimpleUploadedFile("big.txt", b"x" * 2048, content_type="text/plain"), "big.txt is larger than 0 MB"),
        (SimpleUploadedFile("fake.png", b"<svg onload=alert(1)>", content_type="image/png"), "not really a png"),
    ):
        response = client.post(
            "/account/tickets/new/",
            {"department": "technical", "subject": "s", "body": "b", "attachments": [upload]},
        )
        assert error in response.content.decode()
    assert Ticket.objects.count() == 0


def test_markdown_renders_inert():
    """Must-show 5, second half."""
    html = render_markdown(
        "**bold** <script>alert(1)</script> [x](javascript:alert(1)) {{ 7|add:7 }} {% debug %} "
        '<img src=x onerror="alert(1)"> [ok](https://example.com)'
    )
    assert "<strong>bold</strong>" in html
    assert "<script" not in html
    assert "<img" not in html  # escaped to text: inert
    assert 'href="javascript' not in html
    assert "{{ 7|add:7 }}" in html  # template syntax stays literal text
    assert "{% debug %}" in html
    assert '<a href="https://example.com" rel="nofollow noopener noreferrer">ok</a>' in html


@pytest.mark.django_db
def test_a_markdown_body_renders_inert_on_the_pages(alice, staff_client, terms_v1):
    client = Client()
    client.force_login(alice.owner)
    client.post(
        "/account/tickets/new/",
        {"department": "sales", "subject": "hi", "body": "<script>alert('x')</script> {{ request.user.password }}"},
    )
    ticket = Ticket.objects.get()
    for page in (
        client.get(f"/account/tickets/{ticket.public_id}/").content.decode(),
        staff_client.get(f"/backoffice/tickets/{ticket.public_id}/").content.decode(),
    ):
        assert "<script>alert" not in page
        assert "{{ request.user.password }}" in page
        assert "argon2" not in page
        assert "md5$" not in page
