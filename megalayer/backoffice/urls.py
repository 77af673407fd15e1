from django.urls import path

from megalayer.backoffice import views

app_name = "backoffice"
urlpatterns = [
    path("", views.home, name="home"),
    path("customers/", views.customers, name="customers"),
    path("customers/<str:public_id>/", views.customer_detail, name="customer_detail"),
    path("terms/", views.terms_list, name="terms"),
    path("terms/publish/", views.terms_publish_view, name="terms_publish"),
    path("audit/", views.audit_log, name="audit"),
]
