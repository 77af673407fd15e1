"""``/catalog/*``, ``/orders``, ``/services``: what is for sale, ordering, and the customer's services."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.accounts.queries import signed_in_user, ssh_keys_chosen
from megalayer.api.auth import require_write
from megalayer.api.pagination import Cursor, Limit, paginate
from megalayer.api.resources.billing import MoneyOut, _customer, money_out
from megalayer.api.schemas import Problem
from megalayer.audit.actions import Actor
from megalayer.catalog.models import BillingCycle, Product
from megalayer.catalog.queries import (
    image_by_code,
    images_available,
    images_for_new_orders,
    locations,
    prices_in_force,
    products_for_sale,
)
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, NotFound
from megalayer.orders.actions import order_place
from megalayer.orders.models import Order
from megalayer.orders.queries import orders_of
from megalayer.services.actions import service_renew_now, service_set_auto_renew
from megalayer.services.actions.cancellations import cancellation_request, cancellation_withdraw
from megalayer.services.choices import CancelReason, CancelWhen
from megalayer.services.models import Cancellation, Service
from megalayer.services.queries import next_step, services_of

router = Router(tags=["catalog and services"])


class LocationOut(Schema):
    code: str
    name: str
    country: str


class ProductPriceOut(Schema):
    cycle: str
    price: MoneyOut


class ProductOut(Schema):
    id: str
    code: str
    name: str
    kind: str
    location: str
    network_tier: str
    cpu_cores: int
    memory_gb: int
    disk_gb: int
    bandwidth_tb: str
    prices: list[ProductPriceOut]
    os_images: list[str]


class OsImageOut(Schema):
    code: str
    name: str
    family: str
    self_activation_required: bool


class OrderIn(Schema):
    product: str = Field(max_length=40, description="Product code")
    cycle: BillingCycle = BillingCycle.MONTHLY
    os_image: str | None = Field(default=None, max_length=40)
    coupon: str = Field(default="", max_length=40)
    add_ons: dict[str, int] = Field(default_factory=dict, description='Add-on code → quantity, e.g. {"ipv4": 2}')
    ssh_keys: list[str] = Field(default_factory=list, max_length=20, description="Your key ids (key_…) for root")
    user_data: str = Field(
        default="",
        max_length=65536,
        description="cloud-init user data: a #cloud-config YAML document or a #! script, at most 16 KiB",
    )


class OrderOut(Schema):
    id: str
    status: str
    product: str
    cycle: str
    price: MoneyOut
    invoice: str | None
    service: str | None
    created_at: dt.datetime


class ServiceOut(Schema):
    id: str
    product: str
    status: str
    reason: str
    paid_until: dt.datetime
    auto_renew: bool
    price: MoneyOut
    cycle: str
    next_step: str
    next_step_at: dt.datetime | None
    next_step_clause: str = Field(description="The clause of the Terms behind the next step")
    renewal_denied: bool = Field(description="Staff denied renewal: the service ends at paid_until (TOS-REFUSE-1)")
    cancel_at: dt.datetime | None = Field(
        description="You cancelled at the end of the term: the service is not renewed and ends at this moment"
    )


class CancellationIn(Schema):
    when: CancelWhen = Field(description="end_of_term: not renewed, ends at paid_until; now: terminated at once")
    reason: CancelReason
    comment: str = Field(default="", max_length=2000, description="Anything you want us to know")
    confirm: bool = Field(
        default=False,
        description="Required for `now`: the server and its data are deleted at once and nothing is refunded",
    )


class CancellationOut(Schema):
    id: str
    service: str
    when: str
    reason: str
    comment: str
    status: str = Field(description="pending (end of term, can be withdrawn), withdrawn, done")
    requested_at: dt.datetime
    effective_at: dt.datetime = Field(description="When the service ends (or ended)")
    withdrawn_at: dt.datetime | None


class ServiceChangeIn(Schema):
    auto_renew: bool = Field(description="Pay each renewal from the balance when it is due (TOS-RENEW-1)")


class ServicePage(Schema):
    items: list[ServiceOut]
    next: str | None


def _product_out(product: Product) -> ProductOut:
    now = clock.now()
    prices = prices_in_force(product, now)
    return ProductOut(
        id=product.public_id,
        code=product.code,
        name=product.name,
        kind=product.kind,
        location=product.location.code,
        network_tier=product.tier.code,
        cpu_cores=product.cpu_cores,
        memory_gb=product.memory_gb,
        disk_gb=product.disk_gb,
        bandwidth_tb=f"{product.bandwidth_tb}",
        prices=[ProductPriceOut(cycle=c, price=money_out(p.amount, p.currency)) for c, p in prices.items()],
        os_images=list(images_for_new_orders(product).values_list("code", flat=True)),
    )


def _order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.public_id,
        status=order.status,
        product=order.product.code,
        cycle=order.cycle,
        price=money_out(order.recurring_amount, order.currency),
        invoice=order.invoice.public_id if order.invoice else None,
        service=order.service.public_id if order.service else None,
        created_at=order.created_at,
    )


def service_out(service: Service) -> ServiceOut:
    step = next_step(service)
    return ServiceOut(
        id=service.public_id,
        product=service.product.code,
        status=service.status,
        reason=service.reason,
        paid_until=service.paid_until,
        auto_renew=service.auto_renew,
        price=money_out(service.recurring_amount, service.currency),
        cycle=service.cycle,
        next_step=step.what,
        next_step_at=step.at,
        next_step_clause=step.clause,
        renewal_denied=service.renewal_denied,
        cancel_at=service.cancel_at,
    )


def cancellation_out(cancellation: Cancellation) -> CancellationOut:
    return CancellationOut(
        id=cancellation.public_id,
        service=cancellation.service.public_id,
        when=cancellation.when,
        reason=cancellation.reason,
        comment=cancellation.comment,
        status=cancellation.status,
        requested_at=cancellation.requested_at,
        effective_at=cancellation.effective_at,
        withdrawn_at=cancellation.withdrawn_at,
    )


@router.get("/catalog/locations", response={200: list[LocationOut], 401: Problem}, summary="Locations")
def catalog_locations(request: HttpRequest) -> list[LocationOut]:
    return [LocationOut(code=l.code, name=l.name, country=l.country) for l in locations()]  # noqa: E741


@router.get("/catalog/products", response={200: list[ProductOut], 401: Problem}, summary="Products for sale")
def catalog_products(request: HttpRequest, location: str = "", tier: str = "", kind: str = "") -> list[ProductOut]:
    return [_product_out(p) for p in products_for_sale(location=location, tier=tier, kind=kind)]


@router.get("/catalog/os-images", response={200: list[OsImageOut], 401: Problem}, summary="Operating systems")
def catalog_os_images(request: HttpRequest) -> list[OsImageOut]:
    return [
        OsImageOut(code=i.code, name=i.name, family=i.family, self_activation_required=i.requires_self_activation)
        for i in images_available()
    ]


@router.post(
    "/orders",
    response={201: OrderOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem},
    summary="Order a product; it is provisioned once its invoice is paid",
)
def orders_create(request: HttpRequest, payload: OrderIn) -> Status[OrderOut]:
    require_write(request)
    product = products_for_sale().filter(code=payload.product).first()
    if product is None:
        raise NotFound("No such product for sale.")
    image = None
    if payload.os_image:
        image = image_by_code(payload.os_image)
        if image is None:
            raise InvalidInput("No such operating system.", field="os_image")
    customer = _customer(request)
    order = order_place(
        customer=customer,
        product=product,
        cycle=payload.cycle,
        os_image=image,
        coupon=payload.coupon,
        add_ons=payload.add_ons,
        actor=Actor.for_user(signed_in_user(request)),
        ssh_keys=ssh_keys_chosen(customer=customer, public_ids=payload.ssh_keys),
        user_data=payload.user_data,
    )
    return Status(201, _order_out(order))


@router.get("/orders", response={200: list[OrderOut], 401: Problem, 404: Problem}, summary="Your orders")
def orders_list(request: HttpRequest) -> list[OrderOut]:
    orders = orders_of(_customer(request))
    return [_order_out(order) for order in orders[:100]]


@router.get("/services", response={200: ServicePage, 401: Problem, 404: Problem, 422: Problem}, summary="Services")
def services_list(request: HttpRequest, cursor: Cursor = None, limit: Limit = 25) -> dict[str, object]:
    return paginate(services_of(_customer(request)), cursor=cursor, limit=limit, render=service_out)


def _service(request: HttpRequest, public_id: str) -> Service:
    service = services_of(_customer(request)).filter(public_id=public_id).first()
    if service is None:
        raise NotFound("No such service.")
    return service


@router.get("/services/{service_id}", response={200: ServiceOut, 401: Problem, 404: Problem}, summary="One service")
def services_detail(request: HttpRequest, service_id: str) -> ServiceOut:
    return service_out(_service(request, service_id))


@router.patch(
    "/services/{service_id}",
    response={200: ServiceOut, 401: Problem, 403: Problem, 404: Problem, 422: Problem},
    summary="Switch auto-renew on or off",
)
def services_change(request: HttpRequest, service_id: str, payload: ServiceChangeIn) -> ServiceOut:
    require_write(request)
    service = _service(request, service_id)
    service_set_auto_renew(service=service, enabled=payload.auto_renew, actor=Actor.for_user(signed_in_user(request)))
    return service_out(service)


@router.post(
    "/services/{service_id}/renew",
    response={200: ServiceOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem},
    summary="Issue the renewal invoice now and pay it from the balance if it covers it",
)
def services_renew(request: HttpRequest, service_id: str) -> ServiceOut:
    require_write(request)
    service = _service(request, service_id)
    service_renew_now(service=service, actor=Actor.for_user(signed_in_user(request)))
    service.refresh_from_db()
    return service_out(service)


@router.get(
    "/services/{service_id}/cancellation",
    response={200: CancellationOut, 401: Problem, 404: Problem},
    summary="The service's latest cancellation request",
)
def services_cancellation(request: HttpRequest, service_id: str) -> CancellationOut:
    latest = _service(request, service_id).cancellations.first()
    if latest is None:
        raise NotFound("This service has no cancellation request.")
    return cancellation_out(latest)


@router.post(
    "/services/{service_id}/cancellation",
    response={201: CancellationOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem},
    summary="Cancel at the end of the term (withdrawable) or now (no refund: Payment and Refund Policy 3)",
)
def services_cancel(request: HttpRequest, service_id: str, payload: CancellationIn) -> Status[CancellationOut]:
    require_write(request)
    cancellation = cancellation_request(
        service=_service(request, service_id),
        actor=Actor.for_user(signed_in_user(request)),
        when=payload.when,
        reason=payload.reason,
        comment=payload.comment,
        confirm=payload.confirm,
    )
    return Status(201, cancellation_out(cancellation))


@router.delete(
    "/services/{service_id}/cancellation",
    response={200: CancellationOut, 401: Problem, 403: Problem, 404: Problem, 409: Problem},
    summary="Withdraw a pending cancellation: the service renews as before",
)
def services_cancel_withdraw(request: HttpRequest, service_id: str) -> CancellationOut:
    require_write(request)
    cancellation = cancellation_withdraw(
        service=_service(request, service_id), actor=Actor.for_user(signed_in_user(request))
    )
    return cancellation_out(cancellation)
