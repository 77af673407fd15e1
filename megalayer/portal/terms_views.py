"""Public Terms pages: the version in force, every earlier one, and what changed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.models import User
from megalayer.core import clock
from megalayer.terms.actions import terms_changes_seen
from megalayer.terms.queries import (
    current_version,
    latest_acceptance,
    terms_blocks,
    terms_diff,
    upcoming_version,
    version_before,
    version_by_number,
    versions_in_force_history,
)


def terms_current(request: HttpRequest) -> HttpResponse:
    version = current_version()
    history = versions_in_force_history()
    return render(
        request,
        "portal/terms.html",
        {
            "version": version,
            "blocks": terms_blocks(version) if version else [],
            "history": history,
            "upcoming": upcoming_version(),
            "is_current": True,
        },
    )


def terms_version(request: HttpRequest, number: int) -> HttpResponse:
    version = version_by_number(number, in_force_only=True)
    upcoming = upcoming_version()
    if version is None and upcoming is not None and upcoming.number == number:
        version = upcoming  # announced versions are readable before they take effect
    if version is None:
        raise Http404("No such version of the Terms.")
    current = current_version()
    return render(
        request,
        "portal/terms.html",
        {
            "version": version,
            "blocks": terms_blocks(version),
            "history": [],
            "is_current": current is not None and current.pk == version.pk,
        },
    )


@login_required
def terms_changes(request: HttpRequest) -> HttpResponse:
    """The diff between the version the customer last accepted and the newest published one."""
    newest = upcoming_version() or current_version()
    if newest is None:
        raise Http404("No Terms are published yet.")
    user = request.user
    assert isinstance(user, User)
    accepted = latest_acceptance(user)
    previous_accepted = version_before(newest.number, accepted_by=user)
    if request.method == "POST":
        if accepted is not None:
            terms_changes_seen(acceptance=accepted)
        return redirect("portal:dashboard")
    base = previous_accepted if previous_accepted is not None else version_before(newest.number)
    return render(
        request,
        "portal/terms_changes.html",
        {
            "newest": newest,
            "base": base,
            "diff": terms_diff(base, newest),
            "accepted": accepted,
            "is_future": newest.effective_at > clock.now(),
        },
    )
