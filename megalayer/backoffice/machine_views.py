"""Back office, machine room: hosts, prefixes and addresses, operations (retry, cancel), null routes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.queries import signed_in_user
from megalayer.audit.actions import Actor
from megalayer.backoffice.access import staff_required
from megalayer.catalog.queries import locations, network_tiers
from megalayer.core import clock, numbers
from megalayer.core.errors import DomainError
from megalayer.network.actions import null_route_end, null_route_start, prefix_save
from megalayer.network.models import Prefix
from megalayer.network.queries import (
    address_history,
    holder_at,
    null_routes_active,
    null_routes_ended,
    prefix_utilisation,
    prefixes_for_staff,
)
from megalayer.notices.queries import attack_alarms_for_staff, network_notice_by_public_id, network_notices_for_staff
from megalayer.provisioning.actions import operation_cancel, operation_retry
from megalayer.provisioning.actions.hosts import host_driver_loaded, host_reconcile, host_save
from megalayer.provisioning.actions.machine_checks import machine_inspect
from megalayer.provisioning.actions.machines import (
    CSV_COLUMNS,
    CSV_OPTIONAL,
    machine_set_state,
    machines_import_csv,
)
from megalayer.provisioning.actions.network_notices import network_notice_publish, network_notice_update
from megalayer.provisioning.drivers import DRIVERS, driver_class
from megalayer.provisioning.models import Host, Machine, Operation
from megalayer.provisioning.queries import (
    all_hosts,
    host_by_public_id,
    hosts_for_staff,
    live_servers_on,
    machine_by_public_id,
    machine_state_counts,
    machine_waits_for_staff,
    machines_search,
    operation_by_public_id,
    operation_status_counts,
    operations_search,
)
from megalayer.services.queries import services_by_public_ids


def _parameter_fields(host: Host | None = None) -> list[dict[str, Any]]:
    """Every driver's declared parameters, for the host form; secrets are never put back into the page."""
    fields = []
    for name in DRIVERS:
        try:
            cls = driver_class(name)
        except ImportError:
            continue
        for parameter in cls.parameters:
            current = ""
            if host is not None and host.driver == name and not parameter.secret:
                current = str(host.parameters.get(parameter.name, ""))
            fields.append(
                {
                    "driver": name,
                    "name": parameter.name,
                    "label": parameter.label,
                    "secret": parameter.secret,
                    "required": parameter.required,
                    "default": parameter.default,
                    "help": parameter.help,
                    "value": current,
                    "is_set": bool(host and host.driver == name and host.parameters.get(parameter.name)),
                }
            )
    return fields


class HostForm(forms.Form):
    name = forms.CharField(max_length=100)
    driver = forms.ChoiceField(choices=[(d, d) for d in DRIVERS])
    location = forms.ModelChoiceField(queryset=locations(), to_field_name="code")
    status = forms.ChoiceField(choices=Host.Status.choices, initial=Host.Status.ACTIVE)
    capacity_vcpus = numbers.IntegerField(min_value=1)
    capacity_memory_gb = numbers.IntegerField(min_value=1)
    capacity_disk_gb = numbers.IntegerField(min_value=1)


@staff_required("accounts.manage_machines")
def hosts(request: HttpRequest) -> HttpResponse:
    rows = hosts_for_staff()
    return render(request, "backoffice/hosts.html", {"hosts": rows})


@staff_required("accounts.manage_machines")
def host_edit(request: HttpRequest, public_id: str = "") -> HttpResponse:
    host = host_by_public_id(public_id)
    if public_id and host is None:
        raise Http404("No such host.")
    initial = {}
    if host is not None:
        initial = {
            "name": host.name,
            "driver": host.driver,
            "location": host.location.code,
            "status": host.status,
            "capacity_vcpus": host.capacity_vcpus,
            "capacity_memory_gb": host.capacity_memory_gb,
            "capacity_disk_gb": host.capacity_disk_gb,
        }
    form = HostForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        prefix = f"param_{data['driver']}_"
        parameters = {
            key.removeprefix(prefix): request.POST.get(key, "").strip()
            for key in request.POST
            if key.startswith(prefix)
        }
        try:
            saved = host_save(
                staff=signed_in_user(request),
                host=host,
                name=data["name"],
                driver=data["driver"],
                location=data["location"],
                parameters=parameters,
                capacity_vcpus=data["capacity_vcpus"],
                capacity_memory_gb=data["capacity_memory_gb"],
                capacity_disk_gb=data["capacity_disk_gb"],
                status=data["status"],
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, f"Host {saved.name} saved.")
            return redirect("backoffice:host_detail", public_id=saved.public_id)
    return render(
        request, "backoffice/host_form.html", {"form": form, "host": host, "parameters": _parameter_fields(host)}
    )


@staff_required("accounts.manage_machines")
def host_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    host = host_by_public_id(public_id)
    if host is None:
        raise Http404("No such host.")
    if request.method == "POST" and request.POST.get("action") == "reconcile":
        drift = host_reconcile(host=host)
        messages.info(request, f"Reconciled: {len(drift)} difference(s).")
        return redirect("backoffice:host_detail", public_id=host.public_id)
    driver, driver_error = host_driver_loaded(host)
    parameters = driver.masked_parameters() if driver else {}
    capabilities = sorted(driver.capabilities) if driver else []
    servers = live_servers_on(host)
    used = {
        "vcpus": sum(s.vcpus for s in servers),
        "memory": sum(s.memory_gb for s in servers),
        "disk": sum(s.disk_gb for s in servers),
    }
    return render(
        request,
        "backoffice/host_detail.html",
        {
            "host": host,
            "parameters": parameters,
            "capabilities": capabilities,
            "driver_error": driver_error,
            "servers": servers,
            "used": used,
        },
    )


class PrefixForm(forms.Form):
    cidr = forms.CharField(max_length=64, label="Prefix")
    location = forms.ModelChoiceField(queryset=locations(), to_field_name="code")
    tier = forms.ModelChoiceField(queryset=network_tiers(), to_field_name="code", label="Network tier")
    role = forms.ChoiceField(choices=Prefix.Role.choices)
    gateway = forms.CharField(max_length=64, required=False)


@staff_required("accounts.manage_machines")
def prefixes(request: HttpRequest) -> HttpResponse:
    form = PrefixForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            prefix_save(
                staff=signed_in_user(request),
                cidr=data["cidr"],
                location=data["location"],
                tier=data["tier"],
                role=data["role"],
                gateway=data["gateway"],
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, f"Prefix {data['cidr']} added.")
            return redirect("backoffice:prefixes")
    rows = []
    ordered = prefixes_for_staff()
    for prefix in ordered:
        held, usable = prefix_utilisation(prefix)
        size = f"{usable:,}" if prefix.family == 4 else f"2^{128 - int(prefix.cidr.rsplit('/', 1)[1])}"
        percent = int(100 * held / usable) if usable else 0
        rows.append({"prefix": prefix, "held": held, "size": size, "percent": percent})
    lookup = _who_held(request)
    return render(request, "backoffice/prefixes.html", {"rows": rows, "form": form, **lookup})


def _who_held(request: HttpRequest) -> dict[str, Any]:
    """The abuse desk's question: who held this address at that moment?"""
    address = request.GET.get("address", "").strip()
    if not address:
        return {"address": "", "at": ""}
    at_text = request.GET.get("at", "").strip()
    try:
        moment = dt.datetime.fromisoformat(at_text).replace(tzinfo=dt.UTC) if at_text else clock.now()
        holder = holder_at(address, moment)
    except ValueError:
        return {"address": address, "at": at_text, "lookup_error": "Enter an IP address and a time (UTC)."}
    history = address_history(address)
    return {
        "address": address,
        "at": at_text,
        "moment": moment,
        "holder": holder,
        "history": history,
        "looked_up": True,
    }


@staff_required("accounts.manage_machines")
def operations(request: HttpRequest) -> HttpResponse:
    status, query = request.GET.get("status", ""), request.GET.get("q", "").strip()
    if request.method == "POST":
        operation = operation_by_public_id(request.POST.get("operation", ""))
        if operation is None:
            raise Http404("No such operation.")
        try:
            if request.POST.get("action") == "retry":
                operation_retry(operation=operation, staff=signed_in_user(request))
                messages.success(request, f"{operation.public_id} queued again.")
            elif request.POST.get("action") == "cancel":
                operation_cancel(operation=operation, staff=signed_in_user(request))
                messages.success(request, f"{operation.public_id} cancelled.")
        except DomainError as error:
            messages.error(request, error.detail)
        return redirect(request.get_full_path())
    rows = operations_search(status=status, query=query)
    counts = operation_status_counts()
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/operations.html",
        {
            "page": page,
            "status": status,
            "q": query,
            "statuses": [(value, label, counts.get(value, 0)) for value, label in Operation.Status.choices],
            "extra_query": f"status={status}&" if status else "",
        },
    )


class NullRouteForm(forms.Form):
    address = forms.CharField(max_length=64)
    reason = forms.CharField(max_length=255)
    requirement = forms.ChoiceField(
        choices=[
            ("TOS-ABUSE-2", "TOS-ABUSE-2 abuse"),
            ("TOS-ATTACK-1", "TOS-ATTACK-1 attack"),
            ("TOS-LEGAL-1", "TOS-LEGAL-1 legal order"),
        ]
    )
    case_reference = forms.CharField(max_length=64, required=False)


@staff_required("accounts.manage_abuse")
def null_routes(request: HttpRequest) -> HttpResponse:
    form = NullRouteForm(request.POST or None if request.POST.get("action") == "start" else None)
    actor = Actor.for_user(signed_in_user(request))
    if request.method == "POST":
        if request.POST.get("action") == "end":
            try:
                null_route_end(address=request.POST.get("address", ""), actor=actor, note=request.POST.get("note", ""))
            except DomainError as error:
                messages.error(request, error.detail)
            else:
                messages.success(request, "Null route lifted.")
            return redirect("backoffice:null_routes")
        if form.is_valid():
            data = form.cleaned_data
            try:
                null_route_start(
                    address=data["address"],
                    reason=data["reason"],
                    requirement=data["requirement"],
                    case_reference=data["case_reference"],
                    actor=actor,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.detail)
            else:
                messages.success(request, f"{data['address']} null-routed.")
                return redirect("backoffice:null_routes")
    active = [(r, holder_at(r.address, r.started_at)) for r in null_routes_active()]
    ended = null_routes_ended()
    return render(request, "backoffice/null_routes.html", {"form": form, "active": active, "ended": ended})


@staff_required("accounts.manage_machines")
def attack_alarms(request: HttpRequest) -> HttpResponse:

    rows = attack_alarms_for_staff(open_only=bool(request.GET.get("open")))
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/attack_alarms.html",
        {
            "page": page,
            "open_only": bool(request.GET.get("open")),
            "extra_query": "open=1&" if request.GET.get("open") else "",
        },
    )


class NetworkNoticeForm(forms.Form):
    from megalayer.notices.models import NetworkNotice as _Notice

    kind = forms.ChoiceField(choices=_Notice.Kind.choices)
    title = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Starts (UTC)")
    ends_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Ends (UTC)"
    )
    location = forms.ModelChoiceField(queryset=locations(), to_field_name="code", required=False)
    tier = forms.ModelChoiceField(queryset=network_tiers(), to_field_name="code", required=False)
    host = forms.ModelChoiceField(queryset=all_hosts(), to_field_name="public_id", required=False)
    services = forms.CharField(required=False, help_text="srv_ ids, separated by spaces or commas")


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


@staff_required("accounts.manage_machines")
def network_notices(request: HttpRequest) -> HttpResponse:

    form = NetworkNoticeForm(request.POST if request.POST.get("action") == "publish" else None)
    if request.method == "POST" and request.POST.get("action") in ("update", "resolve"):
        notice = network_notice_by_public_id(request.POST.get("notice", ""))
        if notice is None:
            raise Http404("No such notice.")
        try:
            network_notice_update(
                notice=notice,
                staff=signed_in_user(request),
                body=request.POST.get("body", ""),
                resolve=request.POST.get("action") == "resolve",
            )
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, "Update sent to everyone who was told.")
        return redirect("backoffice:network_notices")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ids = [part for part in data["services"].replace(",", " ").split() if part]
        services = services_by_public_ids(ids)
        if len(services) != len(set(ids)):
            form.add_error("services", "Unknown service id.")
        else:
            try:
                notice = network_notice_publish(
                    staff=signed_in_user(request),
                    kind=data["kind"],
                    title=data["title"],
                    body=data["body"],
                    starts_at=_utc(data["starts_at"]) or clock.now(),
                    ends_at=_utc(data["ends_at"]),
                    location=data["location"],
                    tier=data["tier"],
                    host=data["host"],
                    services=services,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.detail)
            else:
                messages.success(
                    request,
                    f"Published; {notice.recipients.count()} customer(s) e-mailed, "
                    f"{notice.services.count()} service(s).",
                )
                return redirect("backoffice:network_notices")
    rows = network_notices_for_staff()
    return render(request, "backoffice/network_notices.html", {"form": form, "notices": rows, "now": clock.now()})


# Bare metal (issue 19) -------------------------------------------------------------------------------------------


@staff_required("accounts.manage_machines")
def machines(request: HttpRequest) -> HttpResponse:
    """The inventory of physical machines: search, state filter, a rack imported from CSV, state changes."""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "import":
                upload = request.FILES.get("file")
                text = upload.read().decode("utf-8-sig", errors="replace") if upload else request.POST.get("csv", "")
                result = machines_import_csv(staff=signed_in_user(request), text=text)
                messages.success(request, f"{result.created} machine(s) registered.")
            elif request.POST.get("action") == "inspect":
                machine = machine_by_public_id(request.POST.get("machine", ""))
                if machine is None:
                    raise Http404("No such machine.")
                differences = machine_inspect(machine=machine, actor=Actor.for_user(signed_in_user(request)))
                if differences:
                    messages.warning(request, f"{machine.name} differs from its profile: {'; '.join(differences)}.")
                else:
                    messages.success(request, f"{machine.name} matches its profile.")
            else:
                machine = machine_by_public_id(request.POST.get("machine", ""))
                if machine is None:
                    raise Http404("No such machine.")
                machine = machine_set_state(
                    staff=signed_in_user(request),
                    machine=machine,
                    state=request.POST.get("state", ""),
                    note=request.POST.get("note", ""),
                )
                messages.success(request, f"{machine.name} is now {machine.get_state_display().lower()}.")
        except DomainError as error:
            messages.error(request, error.detail)
        return redirect(request.get_full_path())
    state = request.GET.get("state", "")
    if state not in Machine.State.values:
        state = ""
    query = request.GET.get("q", "").strip()[:100]
    counts = machine_state_counts()
    page = Paginator(machines_search(state=state, query=query), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/machines.html",
        {
            "page": page,
            "state": state,
            "q": query,
            "states": [(value, label, counts.get(value, 0)) for value, label in Machine.State.choices],
            "extra_query": f"state={state}&" if state else "",
            "waits": machine_waits_for_staff(),
            "columns": ", ".join(CSV_COLUMNS + CSV_OPTIONAL),
            "staff_states": [
                (Machine.State.AVAILABLE, "Back to the pool"),
                (Machine.State.MAINTENANCE, "Maintenance"),
                (Machine.State.BROKEN, "Broken"),
            ],
        },
    )
