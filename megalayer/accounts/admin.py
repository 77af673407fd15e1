from django.contrib import admin

from megalayer.accounts.models import ApiToken, BillingProfile, Contact, Customer, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    list_display = ("email", "full_name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "full_name")
    exclude = ("password",)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = ("public_id", "owner", "kind", "status", "created_at")
    search_fields = ("public_id", "owner__email")


admin.site.register(BillingProfile)
admin.site.register(Contact)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ("name", "user", "prefix", "scope", "created_at", "last_used_at", "revoked_at")
    exclude = ("secret_hash",)
