from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig

from megalayer.accounts import hooks

if TYPE_CHECKING:
    from megalayer.accounts.models import User


class AccountsConfig(AppConfig):
    name = "megalayer.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from allauth.account.signals import email_changed, email_confirmed

        email_confirmed.connect(_address_confirmed, dispatch_uid="megalayer.email_bounce_clear.confirmed")
        email_changed.connect(_address_changed, dispatch_uid="megalayer.email_bounce_clear.changed")


def _address_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    """A re-verified address works again (TOS-EMAIL-1)."""
    hooks.address_confirmed.call(email_address.user)


def _address_changed(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    hooks.address_confirmed.call(user)
