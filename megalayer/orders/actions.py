"""Placing orders and deciding them (TOS-ORDER-1, TOS-BILLDATA-1, TOS-FRAUD-1, TOS-REFUSE-1, TOS-PRICE-1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from megalayer.accounts.models import Customer, User
from megalayer.audit.actions import Actor, audit_record
from megalayer.billing.actions import LineData, invoice_create, invoice_issue, invoice_void, refund_issue
from megalayer.billing.choices import InvoiceStatus
from megalayer.catalog.actions import coupon_redeem, coupon_release
from megalayer.catalog.models import CYCLE_MONTHS, AddOn, OsImage, Product
from megalayer.catalog.queries import images_for_new_orders, price_at
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, NotFound, RuleRefused
from megalayer.core.money import Money
from megalayer.core.transactions import outermost
from megalayer.orders.choices import ORDER_STATUS, LineKind
from megalayer.orders.fraud import assess
from megalayer.orders.models import Order
from megalayer.provisioning.drivers.base import Capability
from megalayer.provisioning.queries import location_offers
from megalayer.provisioning.userdata import user_data_check
from megalayer.services.actions import service_create_from_order
from megalayer.services.periods import add_months
from megalayer.terms.queries import policy_at


def order_place(
    *,
    customer: Customer,
    product: Product,
    cycle: str,
    os_image: OsImage | None,
    actor: Actor,
    coupon: str = "",
    add_ons: dict[str, int] | None = None,
    ssh_keys: list[str] | None = None,
    user_data: str = "",
) -> Order:
    """Checkout: billing data required, the price in force now is locked into the order, an invoice is issued.

    A coupon lowers the first invoice, or (recurring) the price the service keeps for every renewal.
    ``ssh_keys``: public key lines (``accounts.actions.ssh_keys.ssh_keys_chosen``) the server is built with.
    ``user_data``: cloud-init user data (checked by ``provisioning.userdata``), refused where no host of the
    location can pass it on.
    """
    if customer.status != Customer.Status.ACTIVE:
        raise RuleRefused(
            "This account is suspended or closed: it places no new orders.",
            rule="account-not-active",
            requirement="TOS-VIOLATION-1",
        )
    profile = getattr(customer, "billing_profile", None)
    if profile is None or not profile.is_complete:
        raise RuleRefused(
            "Add your billing details before your first order.",
            rule="billing-profile-required",
            requirement="TOS-BILLDATA-1",
        )
    if not product.is_active:
        raise NotFound("This product is not for sale.")
    if os_image is not None and not images_for_new_orders(product).filter(pk=os_image.pk).exists():
        raise InvalidInput("Choose a system offered for this product.", field="os_image")
    if cycle not in CYCLE_MONTHS:
        raise InvalidInput("Choose monthly, quarterly, semiannual or annual.", field="cycle")
    user_data = user_data_check(user_data)
    if user_data and not location_offers(product.location, Capability.USER_DATA):
        raise InvalidInput(
            f"Servers in {product.location.name} cannot take cloud-init user data; order without it.",
            field="user_data",
        )
    price = price_at(product, cycle)
    chosen = _add_ons(product, add_ons or {}, months=CYCLE_MONTHS[cycle], currency=price.currency)
    now = clock.now()
    with outermost():
        redeemed, discount = None, Decimal(0)
        if coupon.strip():
            uses = (
                Order.objects.filter(customer=customer, coupon__code=coupon.strip().upper())
                .exclude(status__in=[Order.Status.REJECTED, Order.Status.CANCELLED])
                .count()
            )
            redeemed, discount = coupon_redeem(
                code=coupon, product=product, price=price.amount, currency=price.currency, customer_uses=uses
            )
        base = price.amount - discount if redeemed is not None and redeemed.duration == "recurring" else price.amount
        recurring = base + sum((Decimal(item["amount"]) * item["quantity"] for item in chosen), Decimal(0))
        order = Order.objects.create(
            customer=customer,
            product=product,
            os_image=os_image,
            ssh_keys=list(ssh_keys or []),
            cloud_init={"user_data": user_data} if user_data else {},
            cycle=cycle,
            recurring_amount=recurring,
            currency=price.currency,
            price_version=price,
            created_at=now,
            coupon=redeemed,
            list_amount=price.amount,
            add_ons=chosen,
        )
        anchor = now.astimezone(clock.provider_zone()).day
        lines = [
            LineData(
                kind=LineKind.ORDER,
                reference=order.public_id,
                description=f"{product.name}, {product.location.name}, {product.tier.name} network ({cycle})",
                unit_price=Money(price.amount, price.currency),
                period_start=now,
                period_end=add_months(now, CYCLE_MONTHS[cycle], anchor),
            )
        ]
        for item in chosen:
            lines.append(
                LineData(
                    kind=LineKind.ADD_ON,
                    reference=order.public_id,
                    description=f"{item['name']} ({cycle})",
                    unit_price=Money(Decimal(item["amount"]), price.currency),
                    quantity=Decimal(item["quantity"]),
                )
            )
        if redeemed is not None and discount > 0:
            lines.append(
                LineData(
                    kind=LineKind.DISCOUNT,
                    reference=order.public_id,
                    description=f"Coupon {redeemed.code} ({redeemed.get_duration_display().lower()})",
                    unit_price=Money(-discount, price.currency),
                )
            )
        draft = invoice_create(customer=customer, currency=price.currency, lines=lines)
        Order.objects.filter(pk=order.pk).update(invoice=draft)
        order.invoice = draft
        audit_record(
            actor=actor,
            action="order.place",
            target_type="order",
            target_id=order.public_id,
            requirement="TOS-ORDER-1",
            data={"product": product.code, "price": str(price.amount)},
        )
        invoice_issue(invoice=draft, actor=actor, pays_on_top_up=True)
    order.refresh_from_db()
    return order


def _add_ons(product: Product, wanted: dict[str, int], *, months: int, currency: str) -> list[dict[str, Any]]:
    """The add-ons asked for, at their price for the cycle, checked against what the product offers."""

    chosen: list[dict[str, Any]] = []
    for code, quantity in wanted.items():
        if quantity == 0:
            continue
        add_on = AddOn.objects.filter(code=code, products=product).first()
        if add_on is None:
            raise InvalidInput(f"{code} cannot be ordered with this product.", field="add_ons")
        if not 0 < quantity <= add_on.max_quantity:
            raise InvalidInput(f"Order between 1 and {add_on.max_quantity} of {add_on.name}.", field="add_ons")
        if add_on.currency != currency:
            raise InvalidInput(f"{add_on.name} is priced in another currency.", field="add_ons")
        amount = Money(add_on.monthly_amount * months, currency).quantize()
        chosen.append({"code": add_on.code, "name": add_on.name, "quantity": quantity, "amount": amount.as_text()})
    return chosen


def order_paid(*, order_id: str) -> None:
    """The order's invoice is paid: score it; below the threshold it becomes a service (TOS-FRAUD-1)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("customer__owner").get(public_id=order_id)
        if order.status != Order.Status.AWAITING_PAYMENT:
            return
        assessment = assess(order)
        threshold = policy_at(clock.now()).orders.fraud_review_threshold
        status = Order.Status.IN_REVIEW if assessment.score >= threshold else Order.Status.ACCEPTED
        ORDER_STATUS.move(
            order, status, paid_at=clock.now(), fraud_score=assessment.score, fraud_reasons=assessment.reasons
        )
        audit_record(
            actor=Actor.system("fraud check"),
            action=f"order.{status}",
            target_type="order",
            target_id=order.public_id,
            requirement="TOS-FRAUD-1",
            data={"score": assessment.score, "threshold": threshold, "reasons": assessment.reasons},
        )
        if status == Order.Status.ACCEPTED:
            _fulfil(order, Actor.system("orders"))


def _fulfil(order: Order, actor: Actor) -> None:

    service = service_create_from_order(order=order, actor=actor)
    Order.objects.filter(pk=order.pk).update(service=service)


def order_approve(*, order: Order, staff: User) -> Order:
    with outermost():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != Order.Status.IN_REVIEW:
            raise RuleRefused(
                "Only an order waiting for review can be approved.",
                rule="order-not-in-review",
                requirement="TOS-FRAUD-1",
            )
        ORDER_STATUS.move(order, Order.Status.ACCEPTED, decided_at=clock.now(), decided_by=staff)
        audit_record(
            actor=Actor.for_user(staff),
            action="order.approve",
            target_type="order",
            target_id=order.public_id,
            requirement="TOS-FRAUD-1",
        )
        _fulfil(order, Actor.for_user(staff))
    order.refresh_from_db()
    return order


def order_reject(*, order: Order, staff: User, note: str) -> Order:
    """TOS-REFUSE-1: refuse a paid order; what was paid goes back to the balance."""

    with outermost():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in (Order.Status.IN_REVIEW, Order.Status.AWAITING_PAYMENT):
            raise RuleRefused(
                "Only an order not yet fulfilled can be rejected.",
                rule="order-not-rejectable",
                requirement="TOS-REFUSE-1",
            )
        ORDER_STATUS.move(order, Order.Status.REJECTED, decided_at=clock.now(), decided_by=staff)
        if order.coupon_id is not None:
            coupon_release(coupon_id=order.coupon_id)
        invoice = order.invoice
        if invoice is not None:
            invoice.refresh_from_db()
            if invoice.amount_paid > 0:
                refund_issue(
                    invoice=invoice,
                    amount=Money(invoice.amount_paid, invoice.currency),
                    reason="provider_cancelled",
                    note=note or "Order refused",
                    destination="balance",
                    staff=staff,
                    idempotency_key=f"order-reject:{order.public_id}",
                )
            elif invoice.status == InvoiceStatus.ISSUED:
                invoice_void(invoice=invoice, reason="order refused", actor=Actor.for_user(staff))
        audit_record(
            actor=Actor.for_user(staff),
            action="order.reject",
            target_type="order",
            target_id=order.public_id,
            requirement="TOS-REFUSE-1",
            data={"note": note},
        )
    order.refresh_from_db()
    return order


def orders_cancel_unpaid() -> int:
    """Cancel orders nobody paid any of within ``orders.unpaid_cancel_after_days`` of the Terms in force
    (TOS-ORDER-1): the invoice is voided and a coupon the order held is given back, so an abandoned checkout
    neither waits for ever nor uses up a limited promotion. Safe to run on several workers at once."""
    now = clock.now()
    cutoff = now - dt.timedelta(days=policy_at(now).orders.unpaid_cancel_after_days)
    cancelled = 0
    for pk in Order.objects.filter(status=Order.Status.AWAITING_PAYMENT, created_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            order = Order.objects.select_for_update(of=("self",)).select_related("invoice").get(pk=pk)
            invoice = order.invoice
            if order.status != Order.Status.AWAITING_PAYMENT or (invoice is not None and invoice.amount_paid > 0):
                continue  # another worker was first, or someone paid part of it: it waits for the rest
            ORDER_STATUS.move(order, Order.Status.CANCELLED, decided_at=now)
            if order.coupon_id is not None:
                coupon_release(coupon_id=order.coupon_id)
            actor = Actor.system("orders.cancel_unpaid")
            if invoice is not None and invoice.status == InvoiceStatus.ISSUED:
                invoice_void(invoice=invoice, reason="order not paid in time", actor=actor)
            audit_record(
                actor=actor,
                action="order.cancel_unpaid",
                target_type="order",
                target_id=order.public_id,
                requirement="TOS-ORDER-1",
                data={"created_at": order.created_at.isoformat(), "coupon": order.coupon_id is not None},
            )
            cancelled += 1
    return cancelled
