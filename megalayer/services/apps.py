from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "megalayer.services"
    label = "services"
    verbose_name = "Services"

    def ready(self) -> None:
        from megalayer.services import handlers

        handlers.register()
