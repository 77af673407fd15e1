from django.urls import path

from megalayer.portal import abuse_views, billing_views, cancellation_views, service_views, support_views, views

app_name = "portal"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("profile/", views.profile, name="profile"),
    path("profile/contacts/<int:contact_id>/remove/", views.contact_remove_view, name="contact_remove"),
    path("security/", views.security, name="security"),
    path("security/ssh-keys/", views.ssh_keys, name="ssh_keys"),
    path("security/tokens/<str:public_id>/revoke/", views.token_revoke_view, name="token_revoke"),
    path("privacy/", views.privacy, name="privacy"),
    path("affiliate/", views.affiliate, name="affiliate"),
    path("privacy/export/", views.privacy_export_view, name="privacy_export"),
    path("order/", service_views.catalog, name="catalog"),
    path("order/<slug:code>/", service_views.order, name="order"),
    path("services/", service_views.services, name="services"),
    path("services/<str:public_id>/", service_views.service_detail, name="service_detail"),
    path("abuse/", abuse_views.cases, name="abuse_cases"),
    path("abuse/<str:public_id>/", abuse_views.case_detail, name="abuse_case"),
    path("tickets/", support_views.tickets, name="tickets"),
    path("tickets/new/", support_views.ticket_new, name="ticket_new"),
    path("tickets/<str:public_id>/", support_views.ticket_detail, name="ticket_detail"),
    path(
        "tickets/<str:public_id>/files/<str:attachment_id>/", support_views.ticket_attachment, name="ticket_attachment"
    ),
    path("services/<str:public_id>/cancel/", cancellation_views.service_cancel, name="service_cancel"),
    path("services/<str:public_id>/console/", service_views.service_console, name="service_console"),
    path("services/<str:public_id>/operations.json", service_views.service_operations, name="service_operations"),
    path("billing/", billing_views.billing, name="billing"),
    path("billing/invoices/", billing_views.invoices, name="invoices"),
    path("billing/invoices/<str:public_id>/", billing_views.invoice_detail, name="invoice_detail"),
    path("billing/invoices/<str:public_id>/pdf/", billing_views.invoice_pdf_view, name="invoice_pdf"),
    path("billing/invoices/<str:public_id>/document/", billing_views.invoice_document, name="invoice_document"),
    path("notices/", views.notices, name="notices"),
    path("notices/<str:public_id>/", views.notice_detail, name="notice_detail"),
]
