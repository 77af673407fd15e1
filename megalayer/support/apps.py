from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "megalayer.support"
    label = "support"
    verbose_name = "Support desk"

    def ready(self) -> None:
        from megalayer.notices.actions.inbound import mailboxes
        from megalayer.support.mail import support_mailbox

        mailboxes.connect(support_mailbox)
