"""The client area: dashboard, profile, security, notices."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.actions import (
    BillingData,
    billing_profile_update,
    contact_add,
    contact_remove,
    token_create,
    token_revoke,
)
from megalayer.accounts.actions.ssh_keys import ssh_key_add, ssh_key_delete
from megalayer.accounts.forms import BillingProfileForm, ContactForm, TokenCreateForm
from megalayer.accounts.models import Customer, User
from megalayer.accounts.queries import customer_of, live_tokens_of, signed_in_user, ssh_keys_of
from megalayer.affiliates.actions import REFERRAL_COOKIE, REFERRAL_COOKIE_DAYS, REFERRAL_SALT, affiliate_code_for
from megalayer.affiliates.queries import affiliate_link, affiliate_summary, code_taken
from megalayer.audit.actions import Actor
from megalayer.core import clock
from megalayer.core.errors import DomainError
from megalayer.notices.queries import notices_for_user
from megalayer.privacy.actions import balance_forfeited, erasure_blockers, erasure_request
from megalayer.privacy.forms import AccountDeleteForm
from megalayer.privacy.views_shared import export_response
from megalayer.provisioning.actions.metal_seed import metal_seed
from megalayer.provisioning.actions.network_notices import status_page
from megalayer.terms.queries import policy_at


def _user(request: HttpRequest) -> User:
    return signed_in_user(request)


def _customer(request: HttpRequest) -> Customer | None:
    return customer_of(_user(request))


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("backoffice:home" if _user(request).is_staff else "portal:dashboard")
    return redirect("account_login")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    profile = getattr(customer, "billing_profile", None) if customer else None
    context = {
        "customer": customer,
        "profile": profile,
        "recent_notices": notices_for_user(_user(request))[:5],
    }
    return render(request, "portal/dashboard.html", context)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    customer = _customer(request)
    if customer is None:
        raise Http404("Staff accounts have no customer profile.")
    instance = getattr(customer, "billing_profile", None)
    is_contact = request.method == "POST" and request.POST.get("form") == "contact"
    form = BillingProfileForm(request.POST if request.method == "POST" and not is_contact else None, instance=instance)
    contact_form = ContactForm(request.POST if is_contact else None)
    if is_contact and contact_form.is_valid():
        try:
            contact_add(customer=customer, **contact_form.cleaned_data)
        except DomainError as error:
            contact_form.add_error(error.field if error.field in contact_form.fields else None, error.detail)
        else:
            messages.success(request, "Contact added.")
            return redirect("portal:profile")
    if request.method == "POST" and not is_contact and form.is_valid():
        try:
            billing_profile_update(customer=customer, data=BillingData(**form.cleaned_data))
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            messages.success(request, "Billing profile saved.")
            return redirect("portal:profile")
    context = {"form": form, "customer": customer, "contact_form": contact_form, "contacts": customer.contacts.all()}
    return render(request, "portal/profile.html", context)


@login_required
def contact_remove_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    customer = _customer(request)
    if request.method != "POST" or customer is None:
        return redirect("portal:profile")
    try:
        contact_remove(customer=customer, contact_id=contact_id)
    except DomainError as error:
        raise Http404(error.detail) from error
    messages.success(request, "Contact removed.")
    return redirect("portal:profile")


@login_required
@reauthentication_required(allow_get=True)  # type: ignore[untyped-decorator]  # a new token needs a recent sign-in, not just an open session
def security(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TokenCreateForm(request.POST or None)
    new_token: str | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        issued = token_create(user=user, name=data["name"], scope=data["scope"], expires_in_days=data["expires"])
        new_token = issued.plaintext
        form = TokenCreateForm()
    tokens = live_tokens_of(user, clock.now())
    return render(request, "portal/security.html", {"form": form, "tokens": tokens, "new_token": new_token})


@login_required
def token_revoke_view(request: HttpRequest, public_id: str) -> HttpResponse:
    if request.method != "POST":
        return redirect("portal:security")
    try:
        token_revoke(user=_user(request), public_id=public_id)
    except DomainError as error:
        raise Http404(error.detail) from error
    messages.success(request, "Token revoked.")
    return redirect("portal:security")


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    page = Paginator(notices_for_user(_user(request)), 25).get_page(request.GET.get("page"))
    return render(request, "portal/notices.html", {"page": page})


@login_required
def notice_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    notice = notices_for_user(_user(request)).filter(public_id=public_id).first()
    if notice is None:
        raise Http404("No such notice.")
    return render(request, "portal/notice_detail.html", {"notice": notice})


def status(request: HttpRequest) -> HttpResponse:
    """The public status page: current and recent network notices, no customer data (TOS-NET-2)."""

    return render(request, "portal/status.html", status_page())


def metal_seed_part(request: HttpRequest, mac: str, part: str) -> HttpResponse:
    """A bare-metal installer fetches its machine's cloud-init seed (issue 19): only from the provisioning
    network, only while the machine's install runs; anything else is a plain 404."""
    seed = metal_seed(mac=mac, part=part, remote=str(request.META.get("REMOTE_ADDR", "")))
    if seed is None:
        raise Http404("No seed.")
    response = HttpResponse(seed.body, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@login_required
def privacy(request: HttpRequest) -> HttpResponse:
    """Download my data, delete my account (TOS-PRIVACY-1)."""
    from django.contrib.auth import logout

    customer = _customer(request)
    if customer is None:
        raise Http404("Staff accounts have no customer data.")
    user = _user(request)
    balance = balance_forfeited(customer)
    form = AccountDeleteForm(request.POST or None, user=user, has_balance=bool(balance))
    if request.method == "POST" and form.is_valid():
        try:
            scheduled = erasure_request(
                customer=customer,
                actor=Actor.for_user(user),
                requested_by=user.email,
                balance_acknowledged=bool(form.cleaned_data.get("acknowledge_balance")),
            )
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.detail)
        else:
            logout(request)
            return render(request, "portal/privacy_closed.html", {"request_": scheduled})
    context = {
        "form": form,
        "blockers": erasure_blockers(customer),
        "balance": balance,
        "grace_days": policy_at(clock.now()).accounts.erasure_grace_days,
    }
    return render(request, "portal/privacy.html", context)


@login_required
def privacy_export_view(request: HttpRequest) -> HttpResponse:
    """The zip of the customer's data; POST only, so that a prefetch or a link never makes one."""

    customer = _customer(request)
    if customer is None or request.method != "POST":
        raise Http404("Nothing to export.")
    return export_response(customer, Actor.for_user(_user(request)))


def referral_link(request: HttpRequest, code: str) -> HttpResponse:
    """``/r/<code>/``: remember who recommended us (a signed cookie, 30 days) and go to the sign-up."""
    from django.conf import settings

    response = redirect("home" if request.user.is_authenticated else "account_signup")
    if code_taken(code):
        response.set_signed_cookie(
            REFERRAL_COOKIE,
            code.lower(),
            salt=REFERRAL_SALT,
            max_age=REFERRAL_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    return response


@login_required
def affiliate(request: HttpRequest) -> HttpResponse:
    """The customer's link, the people it brought and what they earned (TOS-AFF-1)."""

    customer = _customer(request)
    if customer is None:
        raise Http404("Staff accounts have no affiliate link.")
    code = affiliate_code_for(customer)
    policy = policy_at(clock.now()).affiliates
    context = {
        "link": affiliate_link(code.code),
        "summary": affiliate_summary(customer),
        "rate": policy.commission_percent,
        "holding_days": policy.holding_days,
    }
    return render(request, "portal/affiliate.html", context)


@login_required
def ssh_keys(request: HttpRequest) -> HttpResponse:
    """The customer's SSH keys (issue 18): add one (validated, fingerprint shown), remove one."""
    customer = _customer(request)
    if customer is None:
        raise Http404("Staff accounts have no SSH keys here.")
    error: DomainError | None = None
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                ssh_key_delete(customer=customer, public_id=request.POST["remove"])
                messages.success(request, "Key removed; servers built with it keep it until reinstalled.")
            else:
                added = ssh_key_add(
                    customer=customer,
                    name=request.POST.get("name", ""),
                    public_key=request.POST.get("public_key", ""),
                )
                messages.success(request, f"Key {added.name} added ({added.fingerprint}).")
        except DomainError as refused:
            error = refused
        else:
            return redirect("portal:ssh_keys")
    context = {"keys": ssh_keys_of(customer), "error": error, "posted": request.POST if error else {}}
    return render(request, "portal/ssh_keys.html", context, status=422 if error else 200)
