from django.contrib import admin

from megalayer.network.models import IpAssignment, Prefix


@admin.register(Prefix)
class PrefixAdmin(admin.ModelAdmin[Prefix]):
    list_display = ("cidr", "family", "location", "tier", "status", "role")
    list_filter = ("family", "location", "tier", "status")


@admin.register(IpAssignment)
class IpAssignmentAdmin(admin.ModelAdmin[IpAssignment]):
    """History is evidence for abuse cases: read-only here."""

    list_display = ("address", "customer", "service", "assigned_at", "released_at", "quarantine_until")
    search_fields = ("address", "customer__public_id")

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
