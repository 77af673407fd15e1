from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "megalayer.privacy"
    label = "privacy"
    verbose_name = "Privacy"

    def ready(self) -> None:
        """Sign-up's consent covers the Privacy Policy in force (``accounts.signed_up``)."""
        from megalayer.accounts import hooks as accounts_hooks
        from megalayer.privacy.actions.policy import accept_at_signup

        accounts_hooks.signed_up.connect(accept_at_signup)
