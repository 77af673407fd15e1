from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "megalayer.api"
    label = "api"
    verbose_name = "JSON API"
