"""Raw data maintenance for the catalog (the back office has the everyday pages)."""

from django.contrib import admin

from megalayer.catalog.models import Coupon, HardwareProfile, Location, NetworkTier, OsImage, PriceVersion, Product


class PriceInline(admin.TabularInline[PriceVersion, Product]):
    model = PriceVersion
    extra = 0
    readonly_fields = ("created_at",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ("code", "name", "kind", "location", "tier", "hardware_profile", "is_active")
    list_filter = ("kind", "location", "tier", "is_active")
    inlines = [PriceInline]


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin[Coupon]):
    list_display = ("code", "kind", "value", "duration", "redemptions", "max_redemptions", "valid_until", "is_active")
    readonly_fields = ("redemptions",)


admin.site.register(Location)
admin.site.register(NetworkTier)
admin.site.register(OsImage)


@admin.register(HardwareProfile)
class HardwareProfileAdmin(admin.ModelAdmin[HardwareProfile]):
    """What dedicated-server products sell and inventory machines are (issue 19)."""

    list_display = ("code", "name", "cpu_model", "cpu_cores", "memory_gb", "disks", "nics")
