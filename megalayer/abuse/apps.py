from django.apps import AppConfig


class AbuseConfig(AppConfig):
    name = "megalayer.abuse"
    label = "abuse"
    verbose_name = "Abuse desk"
