"""Back office: the affiliate programme. Referrals with self-referral signs wait here for a judgement:
genuine (their commissions may be credited) or cleared (TOS-AFF-2)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.queries import customer_by_public_id, signed_in_user
from megalayer.affiliates.actions import affiliate_clear, referral_review
from megalayer.affiliates.queries import (
    commissions_holding_count,
    referral_by_public_id,
    referrals_for_staff,
    referrals_with_signals,
)
from megalayer.backoffice.access import staff_required
from megalayer.core.errors import DomainError


@staff_required("accounts.manage_catalog")
def affiliates(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            if request.POST.get("action") == "review":
                referral = referral_by_public_id(request.POST.get("referral", ""))
                if referral is None:
                    raise Http404("No such referral.")
                referral_review(referral=referral, staff=signed_in_user(request), note=request.POST.get("note", ""))
                messages.success(request, f"{referral.public_id} judged genuine; its commissions will be credited.")
            elif request.POST.get("action") == "clear":
                referrer = customer_by_public_id(request.POST.get("referrer", ""))
                if referrer is None:
                    raise Http404("No such customer.")
                done = affiliate_clear(
                    referrer=referrer, staff=signed_in_user(request), reason=request.POST.get("reason", "")
                )
                messages.success(
                    request, f"Cleared {done['referrals']} referrals and {done['commissions']} unpaid commissions."
                )
            else:
                raise Http404("Unknown action.")
        except DomainError as error:
            messages.error(request, error.detail)
        return redirect("backoffice:affiliates")
    referrals = referrals_for_staff()
    page = Paginator(referrals, 25).get_page(request.GET.get("page"))
    context = {
        "queue": referrals_with_signals(),
        "page": page,
        "holding": commissions_holding_count(),
    }
    return render(request, "backoffice/affiliates.html", context)
