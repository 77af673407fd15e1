from django.contrib import admin

from megalayer.services.models import Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin[Service]):
    """Read-mostly: status changes go through the back office's staff actions, which audit them."""

    list_display = ("public_id", "customer", "product", "status", "reason", "paid_until")
    list_filter = ("status", "reason")
    search_fields = ("public_id", "customer__owner__email")
    readonly_fields = ("status", "reason", "paid_until", "recurring_amount", "currency")
