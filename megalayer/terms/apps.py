from django.apps import AppConfig


class TermsConfig(AppConfig):
    name = "megalayer.terms"
    label = "terms"
    verbose_name = "Terms of Service"
