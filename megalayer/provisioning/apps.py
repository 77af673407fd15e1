from typing import Any

from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "megalayer.provisioning"
    label = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        """Provisioning is the machine behind each service (``services.hooks``)."""
        from megalayer.audit.actions import Actor
        from megalayer.provisioning.actions import server_build, server_lifecycle_request
        from megalayer.services import hooks as services_hooks

        def build(service: Any, actor: Actor) -> object:
            return server_build(service=service, actor=actor)

        def machine(service: Any, kind: str, actor: Actor, reason: str) -> object:
            return server_lifecycle_request(service=service, kind=kind, actor=actor, reason=reason)

        services_hooks.server_build.connect(build)
        services_hooks.machine_request.connect(machine)
        from megalayer.provisioning.actions.traffic import traffic_enforce

        services_hooks.automation_steps.connect(traffic_enforce)
