"""``/balance``, ``/invoices``: the account balance and invoices (TOS-BAL-1, TOS-INVOICE-1).

There is deliberately no endpoint that moves balance out of the platform:
no withdrawal, payout or transfer exists (TOS-BAL-1).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from megalayer.accounts.models import Customer, User
from megalayer.accounts.queries import customer_of, signed_in_user
from megalayer.api.auth import require_write
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.billing.actions import invoice_pay_from_balance, payment_start
from megalayer.billing.gateways import enabled_gateways, gateway_named
from megalayer.billing.models import Invoice, Payment
from megalayer.billing.pdf import invoice_pdf
from megalayer.billing.queries import invoices_of
from megalayer.core.errors import InvalidInput, NotFound
from megalayer.core.money import MINOR_UNITS, Currency, Money
from megalayer.core.numbers import AsciiDecimal
from megalayer.ledger.models import Posting
from megalayer.ledger.queries import customer_balances, customer_transactions

router = Router(tags=["billing"])
CURRENCIES: list[Any] = sorted(MINOR_UNITS)  # Any: pydantic's JSON value type, for the schema's enum


class MoneyIn(Schema):
    amount: AsciiDecimal = Field(max_digits=14, decimal_places=4, examples=["10.00"])
    currency: Currency = Field(
        min_length=3, max_length=3, pattern="^[A-Z]{3}$", examples=["USD"], json_schema_extra={"enum": CURRENCIES}
    )


class MoneyOut(Schema):
    amount: str
    currency: str


def money_out(amount: Decimal, currency: str) -> MoneyOut:
    return MoneyOut(amount=Money(amount, currency).as_text(), currency=currency)


class BalanceOut(Schema):
    balances: list[MoneyOut]
    auto_apply: bool


class TransactionOut(Schema):
    id: str
    created_at: dt.datetime
    description: str
    amount: MoneyOut
    reference: str


class TransactionPage(Schema):
    items: list[TransactionOut]
    next: str | None


class TopUpIn(Schema):
    amount: MoneyIn
    gateway: str = Field(max_length=16)


class PaymentOut(Schema):
    id: str
    status: str
    gateway: str
    amount: MoneyOut
    redirect_url: str | None = None
    sandbox: bool = False


class LineOut(Schema):
    description: str
    quantity: str
    unit_price: MoneyOut
    amount: MoneyOut


class InvoiceOut(Schema):
    id: str
    number: str | None
    status: str
    issued_at: dt.datetime | None
    due_at: dt.datetime | None
    subtotal: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    amount_due: MoneyOut
    reverse_charge: bool
    lines: list[LineOut]


class InvoicePage(Schema):
    items: list[InvoiceOut]
    next: str | None


class PayIn(Schema):
    amount: MoneyIn | None = None


def _customer(request: HttpRequest) -> Customer:
    user = request.user
    assert isinstance(user, User)
    customer = customer_of(user)
    if customer is None:
        raise NotFound("This token has no customer account.")
    return customer


def _invoice(request: HttpRequest, public_id: str) -> Invoice:
    invoice = invoices_of(_customer(request)).filter(public_id=public_id).first()
    if invoice is None:
        raise NotFound("No such invoice.")
    return invoice


def invoice_out(invoice: Invoice) -> InvoiceOut:
    currency = invoice.currency
    return InvoiceOut(
        id=invoice.public_id,
        number=invoice.display_number if invoice.number else None,
        status=invoice.status,
        issued_at=invoice.issued_at,
        due_at=invoice.due_at,
        subtotal=money_out(invoice.subtotal, currency),
        tax=money_out(invoice.tax_total, currency),
        total=money_out(invoice.total, currency),
        amount_due=money_out(max(invoice.amount_due.amount, Decimal(0)), currency),
        reverse_charge=bool(invoice.tax.get("reverse_charge")),
        lines=[
            LineOut(
                description=line.description,
                quantity=f"{line.quantity.normalize():f}",
                unit_price=money_out(line.unit_price, currency),
                amount=money_out(line.amount, currency),
            )
            for line in invoice.lines.all()
        ],
    )


@router.get("/balance", response={200: BalanceOut, 401: Problem, 404: Problem}, summary="Account balance")
def balance(request: HttpRequest) -> BalanceOut:
    customer = _customer(request)
    balances = customer_balances(customer) or [Money.zero(customer.currency)]
    return BalanceOut(
        balances=[money_out(b.amount, b.currency) for b in balances], auto_apply=customer.auto_apply_balance
    )


@router.get(
    "/balance/transactions",
    response={200: TransactionPage, 401: Problem, 404: Problem, 422: Problem},
    summary="Balance movements, newest first",
)
def balance_transactions(request: HttpRequest, cursor: Cursor = None, limit: Limit = 25) -> dict[str, object]:
    def render(posting: Posting) -> TransactionOut:
        return TransactionOut(
            id=posting.transaction.public_id,
            created_at=posting.transaction.created_at,
            description=posting.transaction.description,
            amount=money_out(posting.amount, posting.currency),
            reference=posting.transaction.reference,
        )

    return paginate(customer_transactions(_customer(request)), cursor=cursor, limit=limit, render=render)


@router.post(
    "/balance/top-ups",
    response={201: PaymentOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem},
    summary="Start a top-up through a payment gateway",
)
def balance_top_up(request: HttpRequest, payload: TopUpIn) -> Status[PaymentOut]:
    require_write(request)
    if payload.gateway not in settings.MEGALAYER_GATEWAYS:
        codes = ", ".join(g.code for g in enabled_gateways())
        raise InvalidInput(f"Choose one of: {codes}.", field="gateway")
    amount = Money(payload.amount.amount, payload.amount.currency)
    customer = _customer(request)
    if amount.currency != customer.currency:
        raise InvalidInput(f"Your balance is kept in {customer.currency}.", field="amount.currency")
    payment = payment_start(customer=customer, amount=amount, gateway=payload.gateway)
    gateway = gateway_named(payload.gateway)
    checkout = gateway.start(payment=payment, return_url=f"{settings.SITE_URL}/account/billing/")
    payment.refresh_from_db()
    return Status(201, _payment_out(payment, checkout.redirect_url))


def _payment_out(payment: Payment, redirect_url: str | None = None) -> PaymentOut:
    return PaymentOut(
        id=payment.public_id,
        status=payment.status,
        gateway=payment.gateway,
        amount=money_out(payment.amount, payment.currency),
        redirect_url=redirect_url,
        sandbox=payment.gateway == "sandbox",
    )


@router.get("/invoices", response={200: InvoicePage, 401: Problem, 404: Problem, 422: Problem}, summary="Invoices")
def invoices(request: HttpRequest, cursor: Cursor = None, limit: Limit = 25) -> dict[str, object]:
    queryset = invoices_of(_customer(request)).prefetch_related("lines")
    return paginate(queryset, cursor=cursor, limit=limit, render=invoice_out)


@router.get("/invoices/{invoice_id}", response={200: InvoiceOut, 401: Problem, 404: Problem}, summary="One invoice")
def invoice_detail(request: HttpRequest, invoice_id: str) -> InvoiceOut:
    return invoice_out(_invoice(request, invoice_id))


@router.post(
    "/invoices/{invoice_id}/pay",
    response={200: PaymentOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem},
    summary="Pay an invoice (or part of it) from the balance",
)
def invoice_pay(request: HttpRequest, invoice_id: str, payload: PayIn | None = None) -> PaymentOut:
    require_write(request)
    invoice = _invoice(request, invoice_id)
    amount = None
    if payload is not None and payload.amount is not None:
        amount = Money(payload.amount.amount, payload.amount.currency)
    key = request.headers.get("Idempotency-Key") or f"api:{uuid.uuid4()}"
    payment = invoice_pay_from_balance(
        invoice=invoice, amount=amount, idempotency_key=key, actor=Actor.for_user(signed_in_user(request))
    )
    return _payment_out(payment)


@router.get(
    "/invoices/{invoice_id}/pdf",
    response={200: None, 401: Problem, 404: Problem, 409: Problem},
    summary="The invoice as PDF",
    openapi_extra={"responses": {200: {"content": {"application/pdf": {}}, "description": "PDF"}}},
)
def invoice_pdf_download(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = _invoice(request, invoice_id)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.display_number}.pdf"'
    return response
