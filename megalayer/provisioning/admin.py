"""Raw data for staff. Hosts are edited in the back office (which masks secret parameters), so the admin never
shows ``Host.parameters`` nor an operation's ``secrets``; sandbox faults are added here to rehearse failures."""

from __future__ import annotations

from django.contrib import admin

from megalayer.provisioning.models import Host, Machine, Operation, SandboxFault, SandboxMachine, Server


@admin.register(Host)
class HostAdmin(admin.ModelAdmin[Host]):
    list_display = ["name", "driver", "location", "status", "last_reconciled_at"]
    exclude = ["parameters"]
    readonly_fields = ["public_id", "drift", "last_reconciled_at", "created_at"]


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin[Server]):
    list_display = ["name", "host", "power", "image", "network_suspended", "destroyed_at"]
    search_fields = ["name", "service__public_id"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin[Operation]):
    list_display = ["public_id", "service", "kind", "status", "attempts", "created_at"]
    list_filter = ["status", "kind"]
    search_fields = ["public_id", "service__public_id"]
    exclude = ["secrets"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(SandboxMachine)
class SandboxMachineAdmin(admin.ModelAdmin[SandboxMachine]):
    list_display = ["pool", "name", "power", "image", "network_suspended"]


@admin.register(SandboxFault)
class SandboxFaultAdmin(admin.ModelAdmin[SandboxFault]):
    list_display = ["pool", "action", "error", "remaining", "message"]


@admin.register(Machine)
class MachineAdmin(admin.ModelAdmin[Machine]):
    """Read-only: machines are imported and changed on the back office's Machines page; the BMC's address and
    credentials are never shown."""

    list_display = ["name", "host", "profile", "rack", "position", "state", "server"]
    list_filter = ["state", "profile"]
    search_fields = ["name", "serial"]
    exclude = ["bmc"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
