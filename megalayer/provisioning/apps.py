from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "megalayer.provisioning"
    label = "provisioning"
    verbose_name = "Provisioning"
