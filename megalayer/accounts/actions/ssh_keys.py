"""A customer's public SSH keys (issue 18): validated with ``cryptography`` (type, size, format), stored in one
canonical line with the fingerprint ``ssh-keygen -l`` shows, handed to cloud-init at order and reinstall."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from megalayer.accounts.models import Customer, SshKey
from megalayer.accounts.ssh import ssh_key_parse
from megalayer.core import clock
from megalayer.core.errors import InvalidInput, NotFound

MAX_KEYS = 50


def ssh_key_add(*, customer: Customer, name: str, public_key: str) -> SshKey:
    """Keep a named key; the same key (by fingerprint) or name twice is refused with the field named."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("Name the key (at most 100 characters), e.g. 'laptop'.", field="name")
    line, kind, bits, fingerprint = ssh_key_parse(public_key)
    if SshKey.objects.filter(customer=customer).count() >= MAX_KEYS:
        raise InvalidInput(f"At most {MAX_KEYS} keys per account.", field="public_key")
    if SshKey.objects.filter(customer=customer, fingerprint=fingerprint).exists():
        raise InvalidInput("This key is already in your account.", field="public_key")
    if SshKey.objects.filter(customer=customer, name=name).exists():
        raise InvalidInput("You already have a key with this name.", field="name")
    try:
        with transaction.atomic():
            return SshKey.objects.create(
                customer=customer,
                name=name,
                public_key=line,
                key_type=kind,
                bits=bits,
                fingerprint=fingerprint,
                created_at=clock.now(),
            )
    except IntegrityError as error:  # the same key added twice at once
        raise InvalidInput("This key is already in your account.", field="public_key") from error


def ssh_key_delete(*, customer: Customer, public_id: str) -> None:
    """Servers keep what they were built with: removing a key only stops offering it."""
    deleted, _ = SshKey.objects.filter(customer=customer, public_id=public_id).delete()
    if not deleted:
        raise NotFound("No such key.")
