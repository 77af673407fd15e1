from typing import Any

from django.apps import AppConfig
from django.http import HttpRequest


class AffiliatesConfig(AppConfig):
    name = "megalayer.affiliates"
    label = "affiliates"
    verbose_name = "Affiliates"

    def ready(self) -> None:
        from megalayer.accounts import hooks as accounts_hooks
        from megalayer.affiliates.actions import REFERRAL_COOKIE, REFERRAL_SALT, referral_record

        def signed_up(request: HttpRequest, customer: Any) -> object:
            """The referral link's signed cookie, if the visitor came by one (TOS-AFF-1)."""
            code = request.get_signed_cookie(REFERRAL_COOKIE, default="", salt=REFERRAL_SALT)
            return referral_record(referred=customer, code=code) if code else None

        accounts_hooks.signed_up.connect(signed_up)
