from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "megalayer.audit"
    label = "audit"
    verbose_name = "Audit log"
