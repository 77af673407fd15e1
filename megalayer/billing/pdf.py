"""Invoice PDFs with WeasyPrint, imported lazily: without its system libraries (Pango) the HTML
view still works and the PDF endpoint answers with a clear message instead of a 500."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from megalayer.billing.models import Invoice
from megalayer.core.errors import RuleRefused


def invoice_html(invoice: Invoice, request: HttpRequest | None = None) -> str:
    """The invoice as one HTML document; with the ``request`` of a page, its style sheet carries the CSP nonce."""
    return render_to_string(
        "billing/invoice_document.html",
        {"invoice": invoice, "lines": list(invoice.lines.all()), "credit_notes": list(invoice.credit_notes.all())},
        request=request,
    )


def invoice_pdf(invoice: Invoice) -> bytes:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as error:
        raise RuleRefused(
            "PDF invoices are unavailable on this server (WeasyPrint or its Pango library is missing); "
            "the invoice page shows the same document.",
            rule="pdf-unavailable",
            requirement="TOS-INVOICE-1",
        ) from error
    pdf: bytes = HTML(string=invoice_html(invoice)).write_pdf()
    return pdf
