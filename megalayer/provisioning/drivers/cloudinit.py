"""What the drivers that write a cloud-init NoCloud seed put in it (issue 18).

The platform's own part (hostname, root password, SSH keys) is a ``#cloud-config`` document. The customer's
user data, when there is any, travels beside it in a MIME multi-part archive, the format cloud-init reads
for several parts (its documentation: "User-data formats", "MIME multi-part archive"): cloud-config parts
are merged, a ``#!`` part runs once at first boot. So a customer's document never overrides the password or
the keys the platform set, and the platform never has to rewrite the customer's YAML.
"""

from __future__ import annotations

import json
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from megalayer.provisioning.drivers.base import ServerSpec, ipv6_own_address


def platform_cloud_config(spec: ServerSpec, password: str) -> str:
    """Hostname, root's password (SSH password log-in on) and root's authorized keys."""
    lines = [
        "#cloud-config",
        f"hostname: {spec.hostname or spec.name}",
        "ssh_pwauth: true",
        "chpasswd:",
        "  expire: false",
        "  users:",
        f"    - {{name: root, password: {json.dumps(password)}, type: text}}",
    ]
    if spec.ssh_keys:
        lines.append("ssh_authorized_keys:")
        lines.extend(f"  - {json.dumps(k)}" for k in spec.ssh_keys)
    return "\n".join(lines) + "\n"


def seed_user_data(spec: ServerSpec, password: str) -> bytes:
    """The seed's ``user-data``: the platform's cloud-config alone, or a multi-part archive with the
    customer's part after it."""
    ours = platform_cloud_config(spec, password)
    if not spec.user_data:
        return ours.encode()
    archive = MIMEMultipart(boundary="==megalayer-user-data==")
    archive.attach(MIMEText(ours, "cloud-config", "utf-8"))
    subtype = "x-shellscript" if spec.user_data.startswith("#!") else "cloud-config"
    archive.attach(MIMEText(spec.user_data, subtype, "utf-8"))
    return archive.as_bytes()


def seed_network_config(spec: ServerSpec) -> str:
    """Network config version 2: DHCP for IPv4 as before, plus the machine's own address of its IPv6 prefix."""
    addresses = ", ".join(json.dumps(ipv6_own_address(p)) for p in spec.ipv6_prefixes)
    return (
        "version: 2\n"
        "ethernets:\n"
        "  primary:\n"
        '    match: {name: "e*"}\n'
        "    dhcp4: true\n"
        f"    addresses: [{addresses}]\n"
    )
