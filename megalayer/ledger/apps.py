from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "megalayer.ledger"
    label = "ledger"
    verbose_name = "Ledger"
