from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "megalayer.portal"
    label = "portal"
    verbose_name = "Client area"
