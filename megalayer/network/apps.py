from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "megalayer.network"
    label = "network"
    verbose_name = "IP management"
