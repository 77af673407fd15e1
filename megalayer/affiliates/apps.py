from django.apps import AppConfig


class AffiliatesConfig(AppConfig):
    name = "megalayer.affiliates"
    label = "affiliates"
    verbose_name = "Affiliates"
