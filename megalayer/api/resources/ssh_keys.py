"""``/ssh-keys``: the customer's named public SSH keys, chosen at order and reinstall (issue 18)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from megalayer.accounts.actions.ssh_keys import ssh_key_add, ssh_key_delete
from megalayer.accounts.models import SshKey
from megalayer.accounts.queries import ssh_keys_of
from megalayer.api.auth import require_write
from megalayer.api.resources.billing import _customer
from megalayer.api.schemas import Problem

router = Router(tags=["ssh keys"])
ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


class SshKeyIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    public_key: str = Field(min_length=1, max_length=16_384, description="One OpenSSH public key line (.pub)")


class SshKeyOut(Schema):
    id: str
    name: str
    type: str
    bits: int
    fingerprint: str = Field(description="SHA256:… as ssh-keygen -l prints it")
    public_key: str
    created_at: dt.datetime


def _out(key: SshKey) -> SshKeyOut:
    return SshKeyOut(
        id=key.public_id,
        name=key.name,
        type=key.key_type,
        bits=key.bits,
        fingerprint=key.fingerprint,
        public_key=key.public_key,
        created_at=key.created_at,
    )


@router.get("/ssh-keys", response={200: list[SshKeyOut], **ERRORS}, summary="Your SSH keys")
def ssh_keys(request: HttpRequest) -> list[SshKeyOut]:
    return [_out(k) for k in ssh_keys_of(_customer(request))]


@router.post("/ssh-keys", response={201: SshKeyOut, **ERRORS}, summary="Add an SSH public key")
def ssh_keys_add(request: HttpRequest, payload: SshKeyIn) -> Status[SshKeyOut]:
    require_write(request)
    return Status(201, _out(ssh_key_add(customer=_customer(request), name=payload.name, public_key=payload.public_key)))


@router.delete(
    "/ssh-keys/{key_id}",
    response={204: None, **ERRORS},
    summary="Remove a key (servers built with it keep it until reinstalled)",
)
def ssh_keys_delete(request: HttpRequest, key_id: str) -> Status[None]:
    require_write(request)
    ssh_key_delete(customer=_customer(request), public_id=key_id)
    return Status(204, None)
