from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "megalayer.catalog"
    label = "catalog"
    verbose_name = "Catalog"
