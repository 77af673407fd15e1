from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "megalayer.notices"
    label = "notices"
    verbose_name = "Notices"
