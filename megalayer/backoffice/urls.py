from django.urls import path

from megalayer.backoffice import abuse_views, billing_views, machine_views, service_views, support_views, views

app_name = "backoffice"
urlpatterns = [
    path("", views.home, name="home"),
    path("customers/", views.customers, name="customers"),
    path("services/", service_views.services, name="services"),
    path("services/<str:public_id>/", service_views.service_detail, name="service_detail"),
    path("orders/review/", service_views.review_queue, name="review_queue"),
    path("products/", service_views.products, name="products"),
    path("coupons/", service_views.coupons, name="coupons"),
    path("products/<slug:code>/", service_views.product_detail, name="product_detail"),
    path("customers/<str:public_id>/", views.customer_detail, name="customer_detail"),
    path("terms/", views.terms_list, name="terms"),
    path("terms/publish/", views.terms_publish_view, name="terms_publish"),
    path("audit/", views.audit_log, name="audit"),
    path("mail/", views.mail_templates, name="mail_templates"),
    path("billing/invoices/", billing_views.invoices, name="invoices"),
    path("billing/invoices/<str:public_id>/", billing_views.invoice_detail, name="invoice_detail"),
    path("billing/invoices/<str:public_id>/document/", billing_views.invoice_document, name="invoice_document"),
    path("billing/payments/", billing_views.payments, name="payments"),
    path("billing/tax-rates/", billing_views.tax_rates, name="tax_rates"),
    path("customers/<str:public_id>/ledger/", billing_views.customer_ledger, name="customer_ledger"),
    path("tickets/", support_views.tickets, name="tickets"),
    path("tickets/<str:public_id>/", support_views.ticket_detail, name="ticket_detail"),
    path(
        "tickets/<str:public_id>/files/<str:attachment_id>/", support_views.ticket_attachment, name="ticket_attachment"
    ),
    path("abuse/", abuse_views.inbox, name="abuse_inbox"),
    path("abuse/reports/<str:public_id>/", abuse_views.report_detail, name="abuse_report"),
    path("abuse/cases/", abuse_views.cases, name="abuse_cases"),
    path("abuse/cases/<str:public_id>/", abuse_views.case_detail, name="abuse_case"),
    path("hosts/", machine_views.hosts, name="hosts"),
    path("hosts/new/", machine_views.host_edit, name="host_new"),
    path("hosts/<str:public_id>/", machine_views.host_detail, name="host_detail"),
    path("hosts/<str:public_id>/edit/", machine_views.host_edit, name="host_edit"),
    path("network/prefixes/", machine_views.prefixes, name="prefixes"),
    path("network/null-routes/", machine_views.null_routes, name="null_routes"),
    path("operations/", machine_views.operations, name="operations"),
    path("network/attacks/", machine_views.attack_alarms, name="attack_alarms"),
    path("network/notices/", machine_views.network_notices, name="network_notices"),
]
