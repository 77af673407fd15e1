from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "megalayer.webhooks"
    label = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        """Every business event of the apps below (``core.events``) becomes deliveries, in its transaction."""
        from megalayer.core import events
        from megalayer.webhooks.actions import deliveries_for_events

        events.emitted.connect(deliveries_for_events)
