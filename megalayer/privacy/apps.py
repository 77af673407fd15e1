from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "megalayer.privacy"
    label = "privacy"
    verbose_name = "Privacy"
