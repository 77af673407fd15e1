from django.urls import path

from megalayer.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("profile/", views.profile, name="profile"),
    path("security/", views.security, name="security"),
    path("security/tokens/<str:public_id>/revoke/", views.token_revoke_view, name="token_revoke"),
    path("notices/", views.notices, name="notices"),
    path("notices/<str:public_id>/", views.notice_detail, name="notice_detail"),
]
