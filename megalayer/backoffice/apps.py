from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackofficeConfig(AppConfig):
    name = "megalayer.backoffice"
    label = "backoffice"
    verbose_name = "Back office"


class MfaAdminConfig(admin_apps.AdminConfig):
    """The Django admin, behind the back office's door (second factor, superusers only): issue 14."""

    default = False  # named in INSTALLED_APPS in place of django.contrib.admin; BackofficeConfig is this app's
    default_site = "megalayer.backoffice.access.MfaAdminSite"
