from django.contrib import admin

from megalayer.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the log is append-only, even for superusers."""

    list_display = ("id", "occurred_at", "actor_label", "action", "target_type", "target_id", "requirement")
    list_filter = ("action", "requirement", "actor_kind")
    search_fields = ("target_id", "actor_label", "action")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
