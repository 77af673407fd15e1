from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig

if TYPE_CHECKING:
    from megalayer.accounts.models import User


class NoticesConfig(AppConfig):
    name = "megalayer.notices"
    label = "notices"
    verbose_name = "Notices"

    def ready(self) -> None:
        """The outbox answers the hooks of the apps below it (``core.hooks``)."""
        from megalayer.accounts import hooks as accounts_hooks
        from megalayer.notices.actions import notice_account_mail, notices_terms_changed
        from megalayer.notices.actions.bounces import email_bounce_clear
        from megalayer.terms import hooks as terms_hooks

        def account_mail(mail: accounts_hooks.AccountMail) -> object:
            return notice_account_mail(
                template_prefix=mail.template_prefix,
                email=mail.email,
                subject=mail.subject,
                body_text=mail.body_text,
                body_html=mail.body_html,
            )

        def address_confirmed(user: User) -> None:
            email_bounce_clear(user=user)

        def terms_changed(version: Any) -> object:
            return notices_terms_changed(version=version)

        accounts_hooks.account_mail.connect(account_mail)
        accounts_hooks.address_confirmed.connect(address_confirmed)
        terms_hooks.version_published.connect(terms_changed)
