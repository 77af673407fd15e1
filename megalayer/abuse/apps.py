from django.apps import AppConfig


class AbuseConfig(AppConfig):
    name = "megalayer.abuse"
    label = "abuse"
    verbose_name = "Abuse desk"

    def ready(self) -> None:
        from megalayer.abuse.holds import hold_release_execute
        from megalayer.accounts.approvals import approval_kind_register

        approval_kind_register(
            "abuse.hold_release",
            permission="accounts.manage_holds",
            execute=hold_release_execute,
            requirement="TOS-HOLD-1",
        )
