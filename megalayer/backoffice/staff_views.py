"""Back office: staff members and their roles (issue 14, item 6)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from megalayer.accounts.actions import staff_roles_set
from megalayer.accounts.queries import signed_in_user, staff_member
from megalayer.accounts.queries import staff_members as staff_member_list
from megalayer.accounts.roles import PERMISSIONS, ROLES
from megalayer.audit.actions import Actor
from megalayer.backoffice.access import staff_required
from megalayer.core.errors import DomainError


@staff_required("accounts.manage_staff")
def staff_members(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        member = staff_member(request.POST.get("user"))
        if member is None:
            raise Http404("No such staff member.")
        try:
            staff_roles_set(
                user=member, roles=request.POST.getlist("roles"), actor=Actor.for_user(signed_in_user(request))
            )
        except DomainError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, f"{member.email}: roles saved.")
        return redirect("backoffice:staff")
    members = staff_member_list()
    roles = [(code, name, sorted(PERMISSIONS[p] for p in granted)) for code, (name, granted) in ROLES.items()]
    return render(request, "backoffice/staff.html", {"members": members, "roles": roles})
