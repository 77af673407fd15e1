from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "megalayer.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from megalayer.accounts.actions.approvals import approval_kind_register
        from megalayer.billing.approvals import refund_execute

        approval_kind_register(
            "billing.refund", permission="accounts.manage_billing", execute=refund_execute, requirement="TOS-REFUND-1"
        )
