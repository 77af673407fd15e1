"""URL map: client area, Terms, back office, API, allauth, admin."""

from django.contrib import admin
from django.urls import include, path

from megalayer.api.v1 import api
from megalayer.portal import views as portal_views

urlpatterns = [
    path("", portal_views.home, name="home"),
    path("auth/", include("allauth.urls")),
    path("account/", include("megalayer.portal.urls")),
    path("terms/", include("megalayer.portal.terms_urls")),
    path("privacy/", include("megalayer.portal.privacy_policy_urls")),
    path("status/", portal_views.status, name="status"),
    path("metal/seed/<str:mac>/<str:part>", portal_views.metal_seed_part, name="metal_seed"),
    path("r/<slug:code>/", portal_views.referral_link, name="referral_link"),
    path("backoffice/", include("megalayer.backoffice.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
