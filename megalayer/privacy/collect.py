"""A customer's records as JSON files: the one collector behind the customer's own data export
(TOS-PRIVACY-1) and the export made for an authority under a legal order (TOS-LEGAL-1), so both
always name the same things the same way."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from typing import Any

from django.db.models import Q

from megalayer.accounts.models import ApiToken, User
from megalayer.affiliates.models import AffiliateCode, Commission, Referral
from megalayer.affiliates.queries import masked_email
from megalayer.billing.models import Invoice, Payment
from megalayer.network.models import IpAssignment
from megalayer.notices.models import Notice
from megalayer.privacy import hooks
from megalayer.services.models import Service
from megalayer.support.models import Ticket
from megalayer.terms.models import TermsAcceptance


def json_file(rows: Any) -> bytes:
    """Rows (or one object) as the export's JSON: indented, keys sorted, times as ISO text."""
    return json.dumps(rows if isinstance(rows, dict) else list(rows), indent=2, sort_keys=True, default=str).encode()


def _within(field: str, start: dt.datetime | None, end: dt.datetime | None) -> Q:
    window = Q()
    if start is not None:
        window &= Q(**{f"{field}__gte": start})
    if end is not None:
        window &= Q(**{f"{field}__lt": end})
    return window


def customer_records(
    customer: Any, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> dict[str, bytes]:
    """Account, services, invoices, sign-ins, notices and address history, for a period or all time."""

    owner = customer.owner
    profile = getattr(customer, "billing_profile", None)
    account = {
        "customer": customer.public_id,
        "email": owner.email,
        "name": owner.full_name,
        "created_at": customer.created_at,
        "signup_ip": customer.signup_ip,
        "signup_country": customer.signup_country,
        "billing": {
            "name": profile.name,
            "organisation": profile.organisation,
            "address": [profile.address_line1, profile.address_line2, profile.city],
            "postal_code": profile.postal_code,
            "region": profile.region,
            "country": profile.country,
            "tax_id": profile.tax_id,
        }
        if profile
        else None,
    }
    services = Service.objects.filter(customer=customer).values(
        "public_id", "product__code", "hostname", "status", "created_at", "paid_until", "terminated_at"
    )
    invoices = Invoice.objects.filter(Q(customer=customer) & _within("issued_at", start, end)).values(
        "number", "status", "currency", "total", "issued_at", "paid_at", "bill_to"
    )
    notices = Notice.objects.filter(Q(customer=customer) & _within("created_at", start, end)).values(
        "public_id", "kind", "recipient", "subject", "body_text", "status", "created_at", "sent_at"
    )
    addresses = IpAssignment.objects.filter(customer=customer)
    if end is not None:
        addresses = addresses.filter(assigned_at__lt=end)
    if start is not None:
        addresses = addresses.filter(Q(released_at__isnull=True) | Q(released_at__gte=start))
    return {
        "account.json": json_file(account),
        "services.json": json_file(services),
        "invoices.json": json_file(invoices),
        "sign_ins.json": json_file(_sign_ins(owner, start, end)),
        "notices.json": json_file(notices),
        "ip_history.json": json_file(addresses.values("address", "service__public_id", "assigned_at", "released_at")),
    }


def _sign_ins(user: User, start: dt.datetime | None, end: dt.datetime | None) -> list[dict[str, Any]]:
    """Sessions with address and browser (allauth's user sessions) and Terms acceptances with their address."""
    from allauth.usersessions.models import UserSession

    sessions = UserSession.objects.filter(Q(user=user) & _within("created_at", start, end))
    rows: list[dict[str, Any]] = [
        {"kind": "session", "at": session.created_at, "ip": session.ip, "user_agent": session.user_agent}
        for session in sessions
    ]
    acceptances = TermsAcceptance.objects.filter(Q(user=user) & _within("accepted_at", start, end))
    rows.extend(
        {
            "kind": "terms_acceptance",
            "at": acceptance.accepted_at,
            "ip": acceptance.ip_address,
            "user_agent": acceptance.user_agent,
            "version": acceptance.version.number,
        }
        for acceptance in acceptances.select_related("version")
    )
    return sorted(rows, key=lambda r: str(r["at"]))


def personal_data(customer: Any) -> dict[str, bytes]:
    """Everything the customer gave us or that we hold about them, as they may see it: the records
    above for all time, plus contacts, payments, API tokens (never their secrets), tickets and abuse
    cases with the messages shown to them (staff-internal notes are not theirs)."""

    files = customer_records(customer)
    files["contacts.json"] = json_file(customer.contacts.values("name", "email", "role"))
    files["payments.json"] = json_file(
        Payment.objects.filter(customer=customer).values(
            "public_id", "gateway", "amount", "currency", "status", "created_at", "completed_at"
        )
    )
    files["api_tokens.json"] = json_file(
        ApiToken.objects.filter(user=customer.owner).values(
            "public_id", "name", "prefix", "scope", "created_at", "last_used_at", "revoked_at"
        )
    )
    tickets = [
        {
            "ticket": ticket.public_id,
            "subject": ticket.subject,
            "status": ticket.status,
            "created_at": ticket.created_at,
            "messages": [
                {
                    "at": message.created_at,
                    "from_staff": message.from_staff,
                    "body": message.body,
                    "attachments": [a.name for a in message.attachments.all()],
                }
                for message in ticket.messages.filter(internal=False).prefetch_related("attachments")
            ],
        }
        for ticket in Ticket.objects.filter(customer=customer).order_by("created_at")
    ]
    files["tickets.json"] = json_file(tickets)
    files["affiliate.json"] = json_file(_affiliate(customer))
    for more in hooks.export.call(customer):  # the abuse cases, with the messages shown to the customer
        files.update(more)
    return files


def _affiliate(customer: Any) -> dict[str, Any]:

    code = AffiliateCode.objects.filter(customer=customer).values_list("code", flat=True).first()
    referrals = Referral.objects.filter(referrer=customer).select_related("referred__owner")
    return {
        "code": code,
        "referred_by": Referral.objects.filter(referred=customer).values_list("code", flat=True).first(),
        "referrals": [
            {"who": masked_email(r.referred.owner.email), "since": r.created_at, "status": r.status} for r in referrals
        ],
        "commissions": list(
            Commission.objects.filter(referral__referrer=customer).values(
                "public_id", "amount", "currency", "rate", "status", "available_at", "released_at"
            )
        ),
    }


def zip_with_manifest(files: dict[str, bytes], header: dict[str, Any]) -> bytes:
    """The files and ``manifest.json``: the header, then each file's SHA-256 and size, so whoever
    receives the archive can prove that nothing in it changed."""
    manifest = {
        **header,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in files.items()
        },
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return buffer.getvalue()
