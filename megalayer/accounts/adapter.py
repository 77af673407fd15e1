"""Allauth adapter: mail through the outbox, password age stamping."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from megalayer.accounts.actions import user_password_changed


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Account mails (verification, password reset) go through the notices outbox.

        They are then stored, retried and visible in the client area like every
        other notice (TOS-EMAIL-2), instead of being sent inline by the request.
        """
        from megalayer.notices.actions import notice_account_mail

        message = self.render_mail(template_prefix, email, context)
        html = ""
        for alternative in getattr(message, "alternatives", []):
            if alternative[1] == "text/html":
                html = str(alternative[0])
        notice_account_mail(
            template_prefix=template_prefix,
            email=email,
            subject=str(message.subject),
            body_text=str(message.body),
            body_html=html,
        )

    def set_password(self, user: Any, password: str) -> None:
        super().set_password(user, password)
        user_password_changed(user=user)

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        from megalayer.terms.queries import current_version

        return current_version() is not None
