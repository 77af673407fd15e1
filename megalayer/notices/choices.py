"""Notice kinds and statuses.

Each kind names the requirement that makes the platform send it; later
capabilities add their kinds here (activation, suspension, invoices, ...).
"""

from __future__ import annotations

from django.db import models

from megalayer.core.transitions import StatusTable


class Kind(models.TextChoices):
    ACCOUNT_EMAIL = "account_email", "Account e-mail (verification, password reset)"
    TERMS_CHANGED = "terms_changed", "Terms of Service changed"
    PRIVACY_POLICY_CHANGED = "privacy_policy_changed", "Privacy Policy changed"
    INVOICE_ISSUED = "invoice_issued", "Invoice issued"
    PAYMENT_RECEIPT = "payment_receipt", "Payment receipt"
    REFUND_ISSUED = "refund_issued", "Refund"
    SERVICE_ACTIVATED = "service_activated", "Service activated"
    RENEWAL_REMINDER = "renewal_reminder", "Renewal reminder"
    SERVICE_SUSPENDED = "service_suspended", "Service suspended"
    SERVICE_RECOVERED = "service_recovered", "Service recovered"
    SERVICE_TERMINATED = "service_terminated", "Service terminated"
    RENEWAL_DENIED = "renewal_denied", "Renewal denied"
    CANCELLATION_REQUESTED = "cancellation_requested", "Cancellation requested"
    CANCELLATION_WITHDRAWN = "cancellation_withdrawn", "Cancellation withdrawn"
    PRICE_CHANGED = "price_changed", "Price of a running service changed"
    OPERATION_FAILED = "operation_failed", "Staff alert: a machine operation failed"
    REINSTALL_DONE = "reinstall_done", "Reinstall finished"
    ATTACK_ALARM = "attack_alarm", "Attack alarm"
    NETWORK_NOTICE = "network_notice", "Network notice"
    NETWORK_NOTICE_UPDATE = "network_notice_update", "Network notice update"
    TICKET_OPENED = "ticket_opened", "Ticket opened"
    TICKET_REPLY = "ticket_reply", "Ticket answered"
    TICKET_CLOSED = "ticket_closed", "Ticket closed"
    TICKET_STAFF = "ticket_staff", "Staff: new ticket message"
    ABUSE_CASE = "abuse_case", "Abuse complaint"
    ABUSE_DEADLINE = "abuse_deadline", "Abuse complaint: deadline passed"
    ACCOUNT_DELETION = "account_deletion", "Account deletion scheduled"
    HOLD_ENDING = "hold_ending", "Staff: a legal hold ends soon"
    REPEAT_OFFENCE = "repeat_offence", "Staff: a repeat offence to decide"
    AFFILIATE_CLEARED = "affiliate_cleared", "Affiliate data cleared"
    TRAFFIC_WARNING = "traffic_warning", "Traffic allowance: nearly used"
    TRAFFIC_EXCEEDED = "traffic_exceeded", "Traffic allowance: used up"


REQUIREMENT_OF_KIND: dict[str, str] = {
    Kind.ACCOUNT_EMAIL: "TOS-EMAIL-1",
    Kind.TERMS_CHANGED: "TOS-ACCEPT-2",
    Kind.PRIVACY_POLICY_CHANGED: "TOS-PRIVACY-1",
    Kind.INVOICE_ISSUED: "TOS-EMAIL-2",
    Kind.PAYMENT_RECEIPT: "TOS-EMAIL-2",
    Kind.REFUND_ISSUED: "TOS-REFUND-1",
    Kind.SERVICE_ACTIVATED: "TOS-ORDER-1",
    Kind.RENEWAL_REMINDER: "TOS-RENEW-1",
    Kind.SERVICE_SUSPENDED: "TOS-EXPIRE-1",
    Kind.SERVICE_RECOVERED: "TOS-EXPIRE-1",
    Kind.SERVICE_TERMINATED: "TOS-EXPIRE-1",
    Kind.RENEWAL_DENIED: "TOS-REFUSE-1",
    Kind.CANCELLATION_REQUESTED: "TOS-TERM-1",
    Kind.CANCELLATION_WITHDRAWN: "TOS-TERM-1",
    Kind.PRICE_CHANGED: "TOS-PRICE-1",
    Kind.OPERATION_FAILED: "TOS-AUDIT-1",
    Kind.REINSTALL_DONE: "TOS-REINSTALL-1",
    Kind.ATTACK_ALARM: "TOS-ATTACK-1",
    Kind.NETWORK_NOTICE: "TOS-NET-2",
    Kind.NETWORK_NOTICE_UPDATE: "TOS-NET-2",
    Kind.TICKET_OPENED: "TOS-TICKET-1",
    Kind.TICKET_REPLY: "TOS-TICKET-1",
    Kind.TICKET_CLOSED: "TOS-TICKET-1",
    Kind.TICKET_STAFF: "TOS-TICKET-1",
    Kind.ABUSE_CASE: "TOS-ABUSE-1",
    Kind.ABUSE_DEADLINE: "TOS-ABUSE-2",
    Kind.ACCOUNT_DELETION: "TOS-PRIVACY-1",
    Kind.HOLD_ENDING: "TOS-HOLD-1",
    Kind.REPEAT_OFFENCE: "TOS-ABUSE-2",
    Kind.AFFILIATE_CLEARED: "TOS-AFF-2",
    Kind.TRAFFIC_WARNING: "TOS-NET-1",
    Kind.TRAFFIC_EXCEEDED: "TOS-NET-1",
}


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


TRANSITIONS: dict[str, frozenset[str]] = {
    # A bounce of an earlier attempt's message ends a notice wherever it is (TOS-EMAIL-1).
    Status.QUEUED: frozenset({Status.SENDING, Status.FAILED}),
    Status.SENDING: frozenset({Status.SENT, Status.QUEUED, Status.FAILED}),
    Status.FAILED: frozenset({Status.QUEUED}),
    # A bounce that arrives after the mail server accepted the message: it failed after all (TOS-EMAIL-1).
    Status.SENT: frozenset({Status.FAILED}),
}
NOTICE_STATUS = StatusTable("notices.Notice", Status, TRANSITIONS, requirement="TOS-EMAIL-2")
