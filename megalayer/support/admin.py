"""Departments (and who is told of their tickets) and canned replies are set up here; tickets are worked in
the back office."""

from __future__ import annotations

from django.contrib import admin

from megalayer.support.models import CannedReply, Department


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin[Department]):
    list_display = ["name", "code", "sort_order"]
    filter_horizontal = ["members"]


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin[CannedReply]):
    list_display = ["title", "department"]
