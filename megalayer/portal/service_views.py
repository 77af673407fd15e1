"""Client area: the catalog, ordering, and the customer's services (TOS-ORDER-1, TOS-NET-1, TOS-TERM-1)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from megalayer.accounts.queries import signed_in_user, ssh_keys_chosen, ssh_keys_of
from megalayer.audit.actions import Actor
from megalayer.billing.choices import InvoiceStatus
from megalayer.catalog.models import BillingCycle, OsImage, Product
from megalayer.catalog.queries import (
    image_by_code,
    images_for_new_orders,
    isos_offered,
    locations,
    monthly_prices_in_force,
    network_tiers,
    no_images,
    price_at,
    products_for_sale,
)
from megalayer.core import clock, numbers
from megalayer.core.errors import DomainError
from megalayer.core.ids import new_public_id
from megalayer.network.actions import rdns_set
from megalayer.orders.actions import order_place
from megalayer.portal.billing_views import _customer
from megalayer.provisioning.actions import password_pending, password_reveal, server_action
from megalayer.provisioning.actions.console import console_open
from megalayer.provisioning.actions.network_notices import banners_for
from megalayer.provisioning.actions.reinstall import reinstall_quota, reinstall_request
from megalayer.provisioning.actions.snapshots import schedule_allowed, snapshot_schedule_set, snapshot_schedule_stop
from megalayer.provisioning.actions.traffic import consequence
from megalayer.provisioning.models import Operation
from megalayer.provisioning.queries import (
    console_csp,
    console_websocket_url,
    operations_of,
    server_view,
    snapshot_schedule_of,
    traffic_this_month,
    traffic_usage,
)
from megalayer.services.actions import service_renew_now, service_set_auto_renew
from megalayer.services.queries import next_step, services_of
from megalayer.terms.queries import policy_at


def catalog(request: HttpRequest) -> HttpResponse:
    filters = {key: request.GET.get(key, "") for key in ("location", "tier", "kind")}
    products = list(products_for_sale(**filters))
    now = clock.now()
    monthly = monthly_prices_in_force(products, now)
    rows = [(product, monthly.get(product.pk)) for product in products]
    context = {
        "rows": rows,
        "filters": filters,
        "locations": locations(),
        "tiers": network_tiers(),
        "kinds": Product.Kind.choices,
    }
    return render(request, "portal/catalog.html", context)


class OsImageField(forms.ModelChoiceField[OsImage]):
    def label_from_instance(self, obj: OsImage) -> str:
        """Windows images say that the customer activates them (Technical Services 2)."""
        return f"{obj.name} (self-activation required)" if obj.requires_self_activation else obj.name


class OrderForm(forms.Form):
    cycle = forms.ChoiceField(choices=BillingCycle.choices)
    os_image = OsImageField(queryset=no_images(), label="Operating system")
    coupon = forms.CharField(max_length=40, required=False, label="Coupon code")

    def __init__(
        self, product: Product, *args: object, keys: list[tuple[str, str]] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if keys:
            self.fields["ssh_keys"] = forms.MultipleChoiceField(
                choices=keys,
                required=False,
                widget=forms.CheckboxSelectMultiple,
                label="SSH keys for root",
                help_text="Given to the server by cloud-init. Manage them under Security → SSH keys.",
            )
        field = self.fields["os_image"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = images_for_new_orders(product)
        cycles = []
        for value, label in BillingCycle.choices:
            try:
                price = price_at(product, value)
            except DomainError:
                continue
            cycles.append((value, f"{label}: {price.amount:.2f} {price.currency}"))
        self.fields["cycle"].choices = cycles  # type: ignore[attr-defined]
        for add_on in product.add_ons.all():
            self.fields[f"add_on_{add_on.code}"] = numbers.IntegerField(
                min_value=0,
                max_value=add_on.max_quantity,
                initial=0,
                required=False,
                label=f"{add_on.name} ({add_on.monthly_amount:.2f} {add_on.currency} a month each)",
            )

    def add_ons(self) -> dict[str, int]:
        return {
            name.removeprefix("add_on_"): value or 0
            for name, value in self.cleaned_data.items()
            if name.startswith("add_on_")
        }


@login_required
def order(request: HttpRequest, code: str) -> HttpResponse:
    product = products_for_sale().filter(code=code).first()
    if product is None:
        raise Http404("This product is not for sale.")
    customer = _customer(request)
    keys = [(k.public_id, f"{k.name} ({k.fingerprint})") for k in ssh_keys_of(customer)]
    form = OrderForm(product, request.POST or None, keys=keys)
    if request.method == "POST" and form.is_valid():
        try:
            placed = order_place(
                ssh_keys=ssh_keys_chosen(customer=customer, public_ids=form.cleaned_data.get("ssh_keys") or []),
                customer=customer,
                product=product,
                cycle=form.cleaned_data["cycle"],
                os_image=form.cleaned_data["os_image"],
                coupon=form.cleaned_data["coupon"],
                add_ons=form.add_ons(),
                actor=Actor.for_user(signed_in_user(request)),
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            if placed.status == "awaiting_payment" and placed.invoice is not None:
                messages.info(request, f"Order {placed.public_id} placed. Pay its invoice to start the service.")
                return redirect("portal:invoice_detail", public_id=placed.invoice.public_id)
            messages.success(request, f"Order {placed.public_id} paid from your balance.")
            return redirect("portal:services")
    profile = getattr(customer, "billing_profile", None)
    return render(request, "portal/order.html", {"product": product, "form": form, "needs_billing": profile is None})


@login_required
def services(request: HttpRequest) -> HttpResponse:
    rows = [(service, next_step(service)) for service in services_of(_customer(request))]
    return render(request, "portal/services.html", {"rows": rows})


class ScheduleForm(forms.Form):
    frequency = forms.ChoiceField(label="Frequency", choices=[("daily", "Daily"), ("weekly", "Weekly")])
    keep = numbers.IntegerField(label="Keep", min_value=1, max_value=30)
    hour = numbers.IntegerField(label="Hour", min_value=0, max_value=23)


def _server_post(request: HttpRequest, service: Any, action: str) -> HttpResponse | None:
    """The server's buttons: each becomes an operation (or a rule's refusal shown as a message)."""

    actor = Actor.for_user(signed_in_user(request))
    key = request.POST.get("request_id") or new_public_id("req")
    kinds = {
        "power_on": Operation.Kind.POWER_ON,
        "power_off": Operation.Kind.POWER_OFF,
        "reboot": Operation.Kind.REBOOT,
        "snapshot_create": Operation.Kind.SNAPSHOT_CREATE,
        "snapshot_restore": Operation.Kind.SNAPSHOT_RESTORE,
        "snapshot_delete": Operation.Kind.SNAPSHOT_DELETE,
        "rescue_enter": Operation.Kind.RESCUE_ENTER,
        "rescue_exit": Operation.Kind.RESCUE_EXIT,
        "iso_insert": Operation.Kind.ISO_INSERT,
        "iso_eject": Operation.Kind.ISO_EJECT,
    }
    try:
        if action in kinds:
            server_action(
                service=service,
                kind=kinds[action],
                actor=actor,
                idempotency_key=key,
                snapshot=request.POST.get("snapshot", ""),
                iso=request.POST.get("iso", ""),
            )
            messages.info(request, "Started; the progress is shown below.")
        elif action == "reinstall":
            image = image_by_code(request.POST.get("os_image", ""))
            keys = ssh_keys_chosen(customer=service.customer, public_ids=request.POST.getlist("ssh_keys"))
            reinstall_request(
                service=service,
                os_image=image,
                confirm_erase=request.POST.get("confirm_erase") == "yes",
                actor=actor,
                idempotency_key=key,
                ssh_keys=keys,
                user_data=request.POST.get("user_data") or None,  # empty: the user data it had
            )
            messages.info(request, "Reinstall started; the new password appears here once it is done.")
        elif action == "password":
            shown = password_reveal(service=service, actor=actor)
            response = render(
                request,
                "portal/server_password.html",
                {"service": service, "password": shown.password, "user_name": shown.user, "rescue": shown.rescue},
            )
            response["Cache-Control"] = "no-store"
            return response
        elif action == "schedule_set":
            form = ScheduleForm(request.POST)
            if not form.is_valid():
                field, errors = next(iter(form.errors.items()))
                messages.error(request, f"{form.fields[field].label}: {errors[0]}")
            else:
                snapshot_schedule_set(service=service, actor=actor, **form.cleaned_data)
                messages.success(request, "Snapshot schedule saved.")
        elif action == "schedule_stop":
            snapshot_schedule_stop(service=service, actor=actor)
            messages.success(request, "Snapshot schedule stopped; its snapshots stay until you delete them.")
        elif action == "rdns":
            rdns_set(
                customer=service.customer,
                address=request.POST.get("address", ""),
                hostname=request.POST.get("hostname", ""),
            )
            messages.success(request, "Reverse DNS saved.")
        else:
            return None
    except DomainError as error:
        messages.error(request, error.detail)
    return redirect("portal:service_detail", public_id=service.public_id)


def _traffic_chart(days: list[Any]) -> dict[str, Any]:
    """In and out bars per day, scaled to the busiest day, in gigabytes."""
    width, height, top = 720, 180, 14
    chart_height = height - 34
    peak = max((max(d.rx_bytes, d.tx_bytes) for d in days), default=0)
    slot = width / max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        for offset, (label, value, colour) in enumerate(
            (("in", day.rx_bytes, "#0b5cad"), ("out", day.tx_bytes, "#7fb3e6"))
        ):
            h = int(chart_height * value / peak) if peak else 0
            estimate = " (estimated: the samples have a gap here)" if day.estimated else ""
            bars.append(
                {
                    "x": round(index * slot + 2 + offset * (slot - 4) / 2, 1),
                    "y": top + chart_height - h,
                    "width": max(round((slot - 6) / 2, 1), 1),
                    "height": h,
                    "colour": colour,
                    "opacity": "0.45" if day.estimated else "1",
                    "title": f"{day.day:%d %b} {label}: {value / 1e9:.2f} GB{estimate}",
                }
            )
    labels = [{"x": round(i * slot + 2, 1), "text": f"{d.day:%d}"} for i, d in enumerate(days) if i % 5 == 0]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "labels": labels,
        "label_y": height - 4,
        "empty": peak == 0,
        "estimated": any(d.estimated for d in days),
        "rx_gb": sum(d.rx_bytes for d in days) / 1e9,
        "tx_gb": sum(d.tx_bytes for d in days) / 1e9,
    }


def _usage(server: Any) -> dict[str, Any]:
    """This month's traffic against the allowance, with the forecast, as the bar on the server page draws it."""
    policy = policy_at(clock.now()).traffic
    usage = traffic_usage(server, counted=policy.counted)
    gb = 10**9
    return {
        "usage": usage,
        "used_gb": usage.used_bytes / gb,
        "allowance_gb": usage.allowance_bytes / gb,
        "forecast_gb": usage.forecast_bytes / gb,
        "used_width": min(usage.percent, 100),
        "forecast_width": min(usage.forecast_percent, 100),
        "state": "danger" if usage.exceeded else "warning" if usage.forecast_percent >= 100 else "ok",
        "consequence": consequence(policy),
        "counted": "in and out" if policy.counted == "in_and_out" else "out only",
        "limit": server.bandwidth_limit_mbps,
    }


def _server_context(service: Any) -> dict[str, Any]:

    view = server_view(service)
    if view is None:
        return {"server": None, "operations": list(operations_of(service)[:10])}
    pending = password_pending(service)
    return {
        "server": view,
        "quota": reinstall_quota(service),
        "images": images_for_new_orders(service.product),
        "ssh_keys": [(k, k.public_key in service.ssh_keys) for k in ssh_keys_of(service.customer)],
        "server_keys": [line.rsplit(" ", 1)[-1] if line.count(" ") >= 2 else line[:40] for line in service.ssh_keys],
        "operations": list(operations_of(service)[:10]),
        "open_operations": any(o.is_open for o in operations_of(service)[:10]),
        "password_waiting": pending is not None,
        "password_rescue": pending is not None and pending.kind == Operation.Kind.RESCUE_ENTER,
        "isos": list(isos_offered()),
        "schedule": snapshot_schedule_of(service),
        "schedule_allowed": schedule_allowed(service),
        "traffic": _traffic_chart(traffic_this_month(view.server)),
        "usage": _usage(view.server),
        "snapshot_limit": settings.MEGALAYER_SNAPSHOTS_PER_SERVER,
        "request_id": new_public_id("req"),
    }


@login_required
def service_operations(request: HttpRequest, public_id: str) -> JsonResponse:
    """What the progress display polls (session auth): the service's recent operations."""
    service = services_of(_customer(request)).filter(public_id=public_id).first()
    if service is None:
        raise Http404("No such service.")

    rows = [
        {"id": o.public_id, "kind": o.get_kind_display(), "status": o.status, "attempts": o.attempts}
        for o in operations_of(service)[:10]
    ]
    return JsonResponse({"operations": rows, "open": any(r["status"] in ("pending", "running") for r in rows)})


def console_page(request: HttpRequest, service: Any, *, by_staff: bool, back_url: str) -> HttpResponse:
    """Open the console (a single-use ticket, audited) and serve the noVNC page on its websocket. The page
    carries the ticket, so it is never cached; its CSP lets it reach the console proxy and nothing else."""
    opened = console_open(service=service, user=signed_in_user(request), by_staff=by_staff)
    url = console_websocket_url(secure=request.is_secure(), host=request.get_host(), token=opened.token)
    response = render(
        request,
        "console.html",
        {"service": service, "websocket_url": url, "by_staff": by_staff, "back_url": back_url},
    )
    response["Cache-Control"] = "no-store"
    response._csp_config = console_csp(url)  # type: ignore[attr-defined]  # Django's per-response CSP
    return response


@login_required
def service_console(request: HttpRequest, public_id: str) -> HttpResponse:
    service = services_of(_customer(request)).filter(public_id=public_id).first()
    if service is None:
        raise Http404("No such service.")
    try:
        return console_page(
            request, service, by_staff=False, back_url=reverse("portal:service_detail", args=[service.public_id])
        )
    except DomainError as error:
        messages.error(request, error.detail)
        return redirect("portal:service_detail", public_id=service.public_id)


@login_required
def service_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    service = services_of(_customer(request)).filter(public_id=public_id).first()
    if service is None:
        raise Http404("No such service.")
    if request.method == "POST":
        action = request.POST.get("action", "")
        handled = _server_post(request, service, action)
        if handled is not None:
            return handled
        if action in ("auto_renew_on", "auto_renew_off"):
            service_set_auto_renew(
                service=service, enabled=action == "auto_renew_on", actor=Actor.for_user(signed_in_user(request))
            )
            messages.success(request, "Saved.")
        elif action == "renew":
            try:
                invoice = service_renew_now(service=service, actor=Actor.for_user(signed_in_user(request)))
            except DomainError as error:
                messages.error(request, error.detail)
            else:
                if invoice is not None and invoice.status != InvoiceStatus.PAID:
                    messages.info(request, "Renewal invoice issued; your balance does not cover it yet.")
                    return redirect("portal:invoice_detail", public_id=invoice.public_id)
                messages.success(request, "Renewed from your balance.")
        return redirect("portal:service_detail", public_id=service.public_id)

    context = {
        "service": service,
        "step": next_step(service),
        "events": service.events.all(),
        "banners": list(banners_for(service)),
        **_server_context(service),
    }
    return render(request, "portal/service_detail.html", context)
