from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "megalayer.billing"
    label = "billing"
    verbose_name = "Billing"
