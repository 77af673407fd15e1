from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "megalayer.backoffice"
    label = "backoffice"
    verbose_name = "Back office"
