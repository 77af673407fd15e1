from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "megalayer.accounts"
    label = "accounts"
    verbose_name = "Accounts"
