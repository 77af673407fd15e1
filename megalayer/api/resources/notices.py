"""``/notices`` (+ ``/{id}``): every e-mail the platform sent the customer, with its delivery (TOS-EMAIL-2).
The outbox row is the record: a customer whose mail bounced or was lost reads the same text here."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema

from megalayer.accounts.models import User
from megalayer.accounts.queries import signed_in_user
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.schemas import Problem
from megalayer.core.errors import NotFound
from megalayer.notices.models import Notice
from megalayer.notices.queries import notices_for_user

router = Router(tags=["notices"])


class NoticeOut(Schema):
    id: str
    kind: str
    requirement: str
    recipient: str
    subject: str
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class NoticeDetailOut(NoticeOut):
    body_text: str


class NoticePage(Schema):
    items: list[NoticeOut]
    next: str | None


def _user(request: HttpRequest) -> User:
    return signed_in_user(request)


def _notice_out(notice: Notice) -> NoticeOut:
    return NoticeOut(
        id=notice.public_id,
        kind=notice.kind,
        requirement=notice.requirement,
        recipient=notice.recipient,
        subject=notice.subject,
        status=notice.status,
        created_at=notice.created_at,
        sent_at=notice.sent_at,
    )


@router.get("/notices", response={200: NoticePage, 401: Problem, 422: Problem}, summary="Notices sent to you")
def notices(request: HttpRequest, cursor: Cursor = None, limit: Limit = 25) -> dict[str, object]:
    return paginate(notices_for_user(_user(request)), cursor=cursor, limit=limit, render=_notice_out)


@router.get("/notices/{notice_id}", response={200: NoticeDetailOut, 401: Problem, 404: Problem}, summary="A notice")
def notice_detail(request: HttpRequest, notice_id: str) -> NoticeDetailOut:
    notice = notices_for_user(_user(request)).filter(public_id=notice_id).first()
    if notice is None:
        raise NotFound("No such notice.")
    return NoticeDetailOut(**_notice_out(notice).dict(), body_text=notice.body_text)
