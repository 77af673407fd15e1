from django.urls import path

from megalayer.portal import privacy_policy_views

app_name = "privacy_policy"
urlpatterns = [
    path("", privacy_policy_views.privacy_policy, name="current"),
    path("v/<int:number>/", privacy_policy_views.privacy_policy_version, name="version"),
]
