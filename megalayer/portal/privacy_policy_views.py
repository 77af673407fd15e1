"""The public Privacy Policy (TOS-PRIVACY-1): the version in force, every earlier one, the announced one, and
for a signed-in customer whether they accepted the version in force, with a button to accept it."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.core import clock
from megalayer.privacy.actions.policy import privacy_policy_accept
from megalayer.privacy.models import PrivacyPolicyAcceptance, PrivacyPolicyVersion
from megalayer.privacy.queries import (
    policy_acceptances,
    policy_in_force,
    policy_upcoming,
    policy_version,
    policy_versions,
)
from megalayer.terms.middleware import request_info


def _sections(body: str) -> list[tuple[str, str]]:
    """(heading, text) per paragraph: a short first line over more text is the paragraph's heading."""
    sections = []
    for block in (b.strip() for b in body.split("\n\n")):
        if not block:
            continue
        first, _, rest = block.partition("\n")
        if rest and len(first) <= 60 and not first.endswith("."):
            sections.append((first, rest))
        else:
            sections.append(("", block))
    return sections


def _page(request: HttpRequest, version: PrivacyPolicyVersion | None, *, history: bool) -> HttpResponse:
    now = clock.now()
    current = policy_in_force(now)
    accepted = None
    if request.user.is_authenticated and version is not None:
        accepted = policy_acceptances(request.user).get(version.number)
    context = {
        "version": version,
        "sections": _sections(version.body) if version else [],
        "is_current": current is not None and version is not None and current.pk == version.pk,
        "history": policy_versions(now) if history else [],
        "upcoming": policy_upcoming(now) if history else None,
        "accepted": accepted,
    }
    return render(request, "portal/privacy_policy.html", context)


def privacy_policy(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        version = policy_in_force(clock.now())
        if version is None or not request.user.is_authenticated:
            raise Http404("Nothing to accept.")
        privacy_policy_accept(
            user=request.user,
            version=version,
            method=PrivacyPolicyAcceptance.Method.EXPLICIT,
            ip_address=request_info(request).ip_address,
        )
        messages.success(request, f"You accepted version {version.number} of the Privacy Policy.")
        return redirect("privacy_policy:current")
    return _page(request, policy_in_force(clock.now()), history=True)


def privacy_policy_version(request: HttpRequest, number: int) -> HttpResponse:
    version = policy_version(number, clock.now())
    if version is None:
        raise Http404("No such version of the Privacy Policy.")
    return _page(request, version, history=False)
