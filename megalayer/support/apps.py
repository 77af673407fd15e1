from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "megalayer.support"
    label = "support"
    verbose_name = "Support desk"
