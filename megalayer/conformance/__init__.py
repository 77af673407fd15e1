"""Where each requirement of the Terms is carried out: the source of ``docs/conformance.md`` (issue 17).

One row per requirement ID of ``terms/fixtures/requirements.md``: the pages where a customer sees it, the
back-office pages where staff act on it, the API operations, the notices it sends, the policy parameters
it reads. Its end-to-end test in ``megalayer/conformance/tests`` is named after the ID. The table's own
test (``tests/test_table.py``) checks every cell against the running platform (each page resolves, each
API operation is in the OpenAPI document, each notice kind and policy parameter exists) and that
``docs/conformance.md`` is this table rendered: ``megalayer conformance --write`` regenerates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from megalayer.terms.requirements import packaged_requirements


@dataclass(frozen=True, slots=True)
class Row:
    customer: tuple[str, ...] = ()  # client-area paths, {placeholders} for identifiers
    staff: tuple[str, ...] = ()  # back-office paths, or "cli: megalayer …" for a command
    api: tuple[str, ...] = ()  # "METHOD /path" under /api/v1
    notices: tuple[str, ...] = ()  # notice kinds (megalayer.notices.choices.Kind)
    policy: tuple[str, ...] = ()  # policy parameters of the terms version ("section.name")


ROWS: dict[str, Row] = {
    "TOS-ACCEPT-1": Row(
        customer=("/auth/signup/", "/terms/", "/account/privacy/"),
        staff=("/backoffice/customers/{id}/",),
        api=("GET /terms", "POST /terms/{version}/accept"),
    ),
    "TOS-ACCEPT-2": Row(
        customer=("/terms/", "/terms/v/{number}/", "/terms/changes/"),
        staff=("/backoffice/terms/", "/backoffice/terms/publish/"),
        api=("GET /terms/current", "POST /staff/terms"),
        notices=("terms_changed",),
    ),
    "TOS-EMAIL-1": Row(
        customer=("/account/profile/",),
        staff=("/backoffice/customers/{id}/", "/backoffice/inbound-mail/"),
        api=("GET /me", "POST /hooks/inbound-mail"),
        notices=("account_email",),
    ),
    "TOS-EMAIL-2": Row(
        customer=("/account/notices/", "/account/notices/{id}/"),
        staff=("/backoffice/customers/{id}/",),
        api=("GET /notices", "GET /notices/{notice_id}"),
        notices=("service_activated", "service_suspended", "service_recovered", "service_terminated"),
    ),
    "TOS-REFUSE-1": Row(
        customer=("/account/services/{id}/",),
        staff=("/backoffice/orders/review/", "/backoffice/services/{id}/"),
        api=(
            "POST /staff/orders/{order_id}/reject",
            "POST /staff/services/{service_id}/deny-renewal",
            "GET /services/{service_id}",
        ),
        notices=("renewal_denied",),
    ),
    "TOS-TICKET-1": Row(
        customer=("/account/tickets/", "/account/tickets/new/", "/account/tickets/{id}/"),
        staff=("/backoffice/tickets/", "/backoffice/tickets/{id}/"),
        api=("GET /tickets", "POST /tickets", "POST /tickets/{ticket_id}/messages"),
        notices=("ticket_opened", "ticket_reply", "ticket_closed"),
        policy=("support.auto_close_answered_days",),
    ),
    "TOS-SEC-1": Row(
        customer=("/account/security/",),
        staff=("/backoffice/staff/",),
        api=("POST /auth/tokens",),
        policy=("accounts.password_max_age_days",),
    ),
    "TOS-BILLDATA-1": Row(
        customer=("/account/profile/",),
        staff=("/backoffice/customers/{id}/",),
        api=("POST /orders",),
    ),
    "TOS-FRAUD-1": Row(
        customer=("/account/order/{code}/",),
        staff=("/backoffice/orders/review/",),
        api=("POST /orders", "POST /staff/orders/{order_id}/approve"),
        policy=("orders.fraud_review_threshold",),
    ),
    "TOS-ORDER-1": Row(
        customer=("/account/order/", "/account/order/{code}/", "/account/services/"),
        staff=("/backoffice/services/",),
        api=("POST /orders", "GET /orders"),
        notices=("service_activated",),
        policy=("orders.unpaid_cancel_after_days",),
    ),
    "TOS-TERM-1": Row(
        customer=("/account/services/", "/account/services/{id}/", "/account/services/{id}/cancel/"),
        staff=("/backoffice/services/{id}/", "/backoffice/cancellations/"),
        api=(
            "GET /services",
            "GET /services/{service_id}",
            "POST /services/{service_id}/cancellation",
            "DELETE /services/{service_id}/cancellation",
            "GET /staff/cancellations",
        ),
        notices=("cancellation_requested", "cancellation_withdrawn"),
    ),
    "TOS-OS-1": Row(
        customer=("/account/order/{code}/", "/account/services/{id}/", "/account/services/{id}/console/"),
        staff=("/backoffice/products/{code}/", "/backoffice/services/{id}/console/"),
        api=(
            "GET /catalog/os-images",
            "GET /catalog/products",
            "GET /isos",
            "PUT /services/{service_id}/iso",
            "POST /services/{service_id}/rescue",
            "POST /services/{service_id}/console",
        ),
    ),
    "TOS-REINSTALL-1": Row(
        customer=("/account/services/{id}/",),
        staff=("/backoffice/services/{id}/",),
        api=("GET /services/{service_id}/reinstall-quota", "POST /services/{service_id}/reinstall"),
        notices=("reinstall_done",),
        policy=("reinstall.free_per_month", "reinstall.fee"),
    ),
    "TOS-REINSTALL-2": Row(
        customer=("/account/services/{id}/", "/account/services/{id}/operations.json"),
        staff=("/backoffice/operations/",),
        api=("POST /services/{service_id}/reinstall", "GET /services/{service_id}/operations/{operation_id}"),
        notices=("reinstall_done",),
    ),
    "TOS-NET-1": Row(
        customer=("/account/order/", "/account/services/{id}/"),
        staff=("/backoffice/products/", "/backoffice/network/prefixes/", "cli: megalayer automation run --dry-run"),
        api=("GET /catalog/products", "GET /services/{service_id}/ips", "GET /services/{service_id}/traffic"),
        notices=("traffic_warning", "traffic_exceeded"),
        policy=(
            "network.ip_quarantine_days",
            "traffic.overage",
            "traffic.throttle_mbps",
            "traffic.price_per_gb",
            "traffic.counted",
            "traffic.notify_percent",
        ),
    ),
    "TOS-NET-2": Row(
        customer=("/account/", "/account/notices/"),
        staff=("/backoffice/network/notices/",),
        api=("GET /staff/network-notices", "POST /staff/network-notices", "GET /notices"),
        notices=("network_notice", "network_notice_update"),
    ),
    "TOS-NET-3": Row(
        customer=("/account/services/{id}/",),
        staff=("/backoffice/abuse/cases/{id}/",),
        api=("GET /services/{service_id}/ips",),
    ),
    "TOS-MAINT-1": Row(
        customer=("/account/services/{id}/", "/status/"),
        staff=("/backoffice/network/notices/",),
        api=("POST /staff/network-notices",),
        notices=("network_notice",),
    ),
    "TOS-BAL-1": Row(
        customer=("/account/billing/",),
        staff=("/backoffice/customers/{id}/ledger/",),
        api=("GET /balance", "POST /balance/top-ups"),
        notices=("payment_receipt",),
    ),
    "TOS-BAL-2": Row(
        customer=("/account/billing/",),
        staff=("/backoffice/customers/{id}/ledger/",),
        api=("GET /balance/transactions", "POST /invoices/{invoice_id}/pay"),
    ),
    "TOS-TAX-1": Row(
        customer=("/account/billing/invoices/{id}/",),
        staff=("/backoffice/billing/tax-rates/",),
        api=("GET /invoices/{invoice_id}",),
    ),
    "TOS-PRICE-1": Row(
        customer=("/account/order/{code}/",),
        staff=("/backoffice/products/{code}/", "/backoffice/coupons/"),
        api=("GET /catalog/products", "POST /orders"),
        notices=("price_changed",),
    ),
    "TOS-RENEW-1": Row(
        customer=("/account/services/{id}/",),
        staff=("cli: megalayer automation run",),
        api=("POST /services/{service_id}/renew", "PATCH /services/{service_id}"),
        notices=("invoice_issued", "renewal_reminder"),
        policy=("renewal.invoice_days_before", "renewal.reminder_days_before"),
    ),
    "TOS-EXPIRE-1": Row(
        customer=("/account/services/{id}/",),
        staff=("/backoffice/services/{id}/", "cli: megalayer automation run"),
        api=("GET /services/{service_id}", "POST /invoices/{invoice_id}/pay"),
        notices=("service_suspended", "service_terminated", "service_recovered"),
        policy=("expiry.suspend_after_days", "expiry.delete_after_days"),
    ),
    "TOS-REFUND-1": Row(
        customer=("/account/billing/",),
        staff=("/backoffice/billing/invoices/{id}/", "/backoffice/approvals/"),
        api=("POST /staff/refunds",),
        notices=("refund_issued",),
    ),
    "TOS-INVOICE-1": Row(
        customer=("/account/billing/invoices/", "/account/billing/invoices/{id}/pdf/"),
        staff=("/backoffice/billing/invoices/",),
        api=("GET /invoices", "GET /invoices/{invoice_id}/pdf", "POST /staff/invoices/{invoice_id}/credit-notes"),
        notices=("invoice_issued",),
    ),
    "TOS-AUP-1": Row(
        customer=("/terms/",),
        staff=("/backoffice/abuse/cases/",),
        api=("GET /staff/abuse/cases",),
        policy=("abuse.auto_null_route_categories",),
    ),
    "TOS-ABUSE-1": Row(
        customer=("/terms/", "/account/abuse/", "/account/abuse/{id}/"),
        staff=("/backoffice/abuse/", "/backoffice/abuse/reports/{id}/", "/backoffice/inbound-mail/"),
        api=("POST /hooks/inbound-mail", "POST /staff/abuse/reports", "GET /abuse/cases", "GET /abuse/cases/{case_id}"),
        notices=("abuse_case", "abuse_deadline"),
        policy=("abuse.response_deadline_hours",),
    ),
    "TOS-ABUSE-2": Row(
        customer=("/account/abuse/{id}/", "/account/services/{id}/"),
        staff=(
            "/backoffice/abuse/cases/",
            "/backoffice/abuse/cases/{id}/",
            "/backoffice/services/{id}/",
            "/backoffice/network/null-routes/",
            "cli: megalayer abuse run --dry-run",
        ),
        api=(
            "POST /staff/services/{service_id}/suspend",
            "POST /staff/services/{service_id}/terminate",
            "POST /staff/ip/null-routes",
            "GET /staff/abuse/repeat-offences",
            "POST /staff/abuse/repeat-offences/{offence_id}/decide",
        ),
        notices=("service_suspended", "abuse_deadline", "repeat_offence"),
        policy=("abuse.auto_null_route_categories", "abuse.infraction_fee", "abuse.repeat_offence"),
    ),
    "TOS-ATTACK-1": Row(
        customer=("/account/services/{id}/", "/account/notices/"),
        staff=("/backoffice/network/attacks/",),
        api=("POST /hooks/attack-alarms", "GET /services/{service_id}/attack-alarms"),
        notices=("attack_alarm",),
        policy=("attack.auto_null_route_outgoing",),
    ),
    "TOS-LEGAL-1": Row(
        staff=("/backoffice/legal/orders/", "/backoffice/legal/orders/{id}/"),
        api=("GET /staff/legal-orders", "POST /staff/legal-orders", "POST /staff/legal-orders/{order_id}/execute"),
    ),
    "TOS-HOLD-1": Row(
        staff=("/backoffice/legal/holds/", "/backoffice/legal/holds/{id}/records/"),
        api=("GET /staff/legal-holds", "POST /staff/legal-holds", "POST /staff/legal-holds/{hold_id}/release"),
        notices=("hold_ending",),
        policy=("legal_hold.default_days",),
    ),
    "TOS-VIOLATION-1": Row(
        customer=("/account/services/{id}/",),
        staff=("/backoffice/abuse/cases/{id}/", "/backoffice/customers/{id}/"),
        api=(
            "POST /staff/services/{service_id}/terminate",
            "POST /staff/customers/{customer_id}/suspend",
            "POST /staff/customers/{customer_id}/close",
        ),
        notices=("service_suspended", "service_terminated"),
    ),
    "TOS-AFF-1": Row(
        customer=("/account/affiliate/", "/r/{code}/"),
        staff=("/backoffice/affiliates/",),
        api=("GET /affiliate", "GET /affiliate/referrals", "GET /affiliate/commissions"),
        policy=("affiliates.commission_percent", "affiliates.holding_days"),
    ),
    "TOS-AFF-2": Row(
        customer=("/account/affiliate/",),
        staff=("/backoffice/affiliates/",),
        api=(
            "GET /staff/affiliates/review",
            "POST /staff/affiliates/referrals/{referral_id}/review",
            "POST /staff/customers/{customer_id}/affiliate/clear",
        ),
        notices=("affiliate_cleared",),
    ),
    "TOS-BACKUP-1": Row(
        customer=("/account/services/{id}/",),
        api=("POST /services/{service_id}/snapshots", "POST /services/{service_id}/snapshots/{name}/restore"),
    ),
    "TOS-PRIVACY-1": Row(
        customer=(
            "/privacy/",
            "/privacy/v/{number}/",
            "/auth/signup/",
            "/account/privacy/",
            "/account/privacy/export/",
        ),
        staff=("/backoffice/privacy/policy/", "/backoffice/customers/{id}/privacy/", "/backoffice/privacy/erasures/"),
        api=(
            "GET /privacy/policy",
            "POST /privacy/policy/{version}/accept",
            "GET /privacy/export",
            "POST /privacy/deletion",
            "POST /staff/privacy-policy",
        ),
        notices=("privacy_policy_changed", "account_deletion"),
        policy=("accounts.erasure_grace_days",),
    ),
    "TOS-AUDIT-1": Row(
        staff=("/backoffice/audit/",),
        api=("GET /staff/audit", "GET /staff/audit/verify"),
    ),
}


def _cell(items: tuple[str, ...]) -> str:
    return "<br>".join(f"`{item}`" for item in items) or "—"


def render() -> str:
    """``docs/conformance.md``: the table above, in the order of ``requirements.md``."""

    lines = [
        "# Conformance: every requirement, where it is carried out and what proves it",
        "",
        "Generated from `megalayer/conformance/__init__.py` by `megalayer conformance --write`; do not edit by",
        "hand. `megalayer/conformance/tests/test_table.py` fails when a requirement of",
        "`megalayer/terms/fixtures/requirements.md` has no row, a cell names a page, API operation, notice or",
        "policy parameter that does not exist, a requirement has no end-to-end test, or this file differs from",
        "the table. Each test (in `megalayer/conformance/tests/`, named after the ID) drives the requirement",
        "through the public faces (client area, back office, customer and staff API) and asserts the state,",
        "the notice and the audit event.",
        "",
    ]
    section = ""
    for requirement in packaged_requirements():
        if requirement.section != section:
            section = requirement.section
            lines += [
                f"## {section}",
                "",
                "| ID | Customer sees it | Staff act on it | API | Notices | Policy | Test |",
                "|---|---|---|---|---|---|---|",
            ]
        row = ROWS.get(requirement.id, Row())
        name = conformance_test_name(requirement.id)
        where = conformance_tests_present().get(name)
        test = f"`{where}::{name}`" if where else "not yet"
        cells = [
            requirement.id,
            _cell(row.customer),
            _cell(row.staff),
            _cell(row.api),
            _cell(row.notices),
            _cell(row.policy),
            test,
        ]
        lines.append("| " + " | ".join(cells) + " |")
        following = _next_section(requirement.id)
        if following != section:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _next_section(requirement_id: str) -> str | None:
    requirements = packaged_requirements()
    index = next(i for i, r in enumerate(requirements) if r.id == requirement_id)
    return requirements[index + 1].section if index + 1 < len(requirements) else None


def conformance_test_name(requirement_id: str) -> str:
    """The conformance test of a requirement is named after it: TOS-REFUSE-1 → ``test_tos_refuse_1``."""
    return "test_" + requirement_id.lower().replace("-", "_")


def conformance_tests_present() -> dict[str, str]:
    """The conformance tests present (``def test_tos_…`` in ``conformance/tests``): name → file."""

    names: dict[str, str] = {}
    for path in sorted((Path(__file__).resolve().parent / "tests").glob("test_*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("def test_tos_"):
                names[line[4:].split("(", 1)[0]] = f"tests/{path.name}"
    return names
