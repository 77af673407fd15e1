from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "megalayer.orders"
    label = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from megalayer.orders import handlers

        handlers.register()
