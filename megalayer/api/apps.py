from typing import Any

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "megalayer.api"
    label = "api"
    verbose_name = "JSON API"

    def ready(self) -> None:
        from megalayer.api.models import IdempotencyRecord
        from megalayer.privacy import hooks as privacy_hooks

        def erase(customer: Any, old_email: str) -> dict[str, int]:
            """An erased customer's stored API responses go (TOS-PRIVACY-1)."""
            return {"api_replays": IdempotencyRecord.objects.filter(user_id=customer.owner_id).delete()[0]}

        privacy_hooks.erase.connect(erase)
