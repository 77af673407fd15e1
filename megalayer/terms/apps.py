from django.apps import AppConfig


class TermsConfig(AppConfig):
    name = "megalayer.terms"
    label = "terms"
    verbose_name = "Terms of Service"

    def ready(self) -> None:
        from megalayer.audit import hooks as audit_hooks
        from megalayer.terms.queries import version_number_at

        audit_hooks.terms_version_at.connect(version_number_at)
