from django.urls import path

from megalayer.portal import terms_views

app_name = "terms"
urlpatterns = [
    path("", terms_views.terms_current, name="current"),
    path("v/<int:number>/", terms_views.terms_version, name="version"),
    path("changes/", terms_views.terms_changes, name="changes"),
]
