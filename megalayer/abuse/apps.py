from django.apps import AppConfig


class AbuseConfig(AppConfig):
    name = "megalayer.abuse"
    label = "abuse"
    verbose_name = "Abuse desk"

    def ready(self) -> None:
        """The desk's answers to the hooks of the apps below it (``core.hooks``)."""
        from megalayer.abuse import personal_data
        from megalayer.abuse.actions import abuse_mailbox
        from megalayer.abuse.actions.holds import ensure_customer_not_held, ensure_not_held, hold_release_execute
        from megalayer.accounts.actions.approvals import approval_kind_register
        from megalayer.notices.actions.inbound import mailboxes
        from megalayer.privacy import hooks as privacy_hooks
        from megalayer.services import hooks as services_hooks

        mailboxes.connect(abuse_mailbox)
        services_hooks.deletion_guard.connect(ensure_not_held)
        privacy_hooks.erasure_guard.connect(ensure_customer_not_held)
        privacy_hooks.export.connect(personal_data.export)
        privacy_hooks.erase.connect(personal_data.erase)
        privacy_hooks.kept.connect(personal_data.kept)
        approval_kind_register(
            "abuse.hold_release",
            permission="accounts.manage_holds",
            execute=hold_release_execute,
            requirement="TOS-HOLD-1",
        )
