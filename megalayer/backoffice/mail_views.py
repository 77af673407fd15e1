"""Back office: every inbound message the mail server piped in (issue 16). Nothing is lost: what no desk took
waits here as unsorted, and what a desk failed on shows its error. Staff file a message with the abuse desk
(it is then parsed and attributed like any complaint) or dismiss it with a note; both are recorded on it."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.abuse.actions import abuse_mail_take
from megalayer.accounts.queries import signed_in_user
from megalayer.audit.actions import Actor
from megalayer.backoffice.access import staff_required
from megalayer.core import mailparts
from megalayer.core.errors import DomainError
from megalayer.notices.actions.inbound import inbound_message_dismiss, inbound_message_file
from megalayer.notices.models import InboundMessage
from megalayer.notices.queries import inbound_message, inbound_messages

RAW_SHOWN = 64 * 1024


@staff_required("accounts.manage_abuse")
def mail_inbox(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "unsorted")
    waiting = request.GET.get("waiting", "1") == "1"
    query = request.GET.get("q", "")
    rows = inbound_messages(kind=kind, query=query, waiting=waiting)
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    context = {"page": page, "kind": kind, "kinds": InboundMessage.Kind.choices, "waiting": waiting, "q": query}
    return render(request, "backoffice/mail_inbox.html", context)


@staff_required("accounts.manage_abuse")
def mail_message(request: HttpRequest, public_id: str) -> HttpResponse:
    stored = inbound_message(public_id)
    if stored is None:
        raise Http404("No such message.")
    if request.method == "POST":
        actor = Actor.for_user(signed_in_user(request))
        try:
            if request.POST.get("action") == "abuse":
                abuse = InboundMessage.Kind.ABUSE
                outcome = inbound_message_file(stored=stored, kind=abuse, take=abuse_mail_take, actor=actor)
                messages.success(request, f"Filed with the abuse desk: {outcome}.")
            else:
                inbound_message_dismiss(stored=stored, actor=actor, note=request.POST.get("note", ""))
                messages.success(request, "Dismissed.")
        except DomainError as error:
            messages.error(request, error.detail)
        return redirect("backoffice:mail_message", public_id=public_id)
    raw = bytes(stored.raw)
    message = mailparts.load(raw)
    context = {
        "m": stored,
        "headers": [(k, " ".join(str(v).split())) for k, v in message.raw_items()][:60],
        "text": mailparts.body_text(message)[:20000],
        "raw": mailparts.decode(raw[:RAW_SHOWN], "utf-8"),
        "truncated": len(raw) > RAW_SHOWN,
    }
    return render(request, "backoffice/mail_message.html", context)
