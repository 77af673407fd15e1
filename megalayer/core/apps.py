from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "megalayer.core"
    label = "core"
    verbose_name = "Core"
