"""The catalog's seed: locations, network tiers (descriptions from Terms: Disclaimers 5), OS images (TOS-OS-1).

Used by migration 0002 and by ``ensure_catalog_seed`` (the demo loader, tests), idempotently.
"""

from __future__ import annotations

from typing import Any

LOCATIONS = [("hkg", "Hong Kong", "HK"), ("sin", "Singapore", "SG"), ("sjc", "San Jose", "US"), ("mnl", "Manila", "PH")]
TIERS = [
    (
        "premium",
        "Premium",
        1,
        "The best-quality lines, directly connected by the telecom operators in mainland China, plus routes to "
        "international and local data centres: the highest availability and access quality for visitors worldwide.",
    ),
    (
        "standard",
        "Standard",
        2,
        "Ordinary lines from the mainland China operators plus international and local routes. Direct routes from "
        "everywhere including mainland China, but delay and packet loss depend on congestion and cannot be "
        "guaranteed at peak times.",
    ),
    (
        "international",
        "International",
        3,
        "Local and international routes only, without direct lines to mainland China or Hong Kong operators: traffic "
        "from mainland China may detour through a third place, so delay and packet loss are not guaranteed there.",
    ),
]
IMAGES = [
    ("debian-12", "Debian 12", "linux", False, False),
    ("debian-11", "Debian 11", "linux", False, False),
    ("ubuntu-24-04", "Ubuntu 24.04 LTS", "linux", False, False),
    ("ubuntu-22-04", "Ubuntu 22.04 LTS", "linux", False, False),
    ("almalinux-9", "AlmaLinux 9", "linux", False, False),
    ("rocky-9", "Rocky Linux 9", "linux", False, False),
    ("centos-stream-9", "CentOS Stream 9", "linux", False, False),
    ("centos-stream-10", "CentOS Stream 10", "linux", False, False),
    ("centos-7", "CentOS 7", "linux", False, True),
    ("windows-2025", "Windows Server 2025", "windows", True, False),
    ("windows-2022", "Windows Server 2022", "windows", True, False),
    ("windows-2019", "Windows Server 2019", "windows", True, False),
    ("windows-2008", "Windows Server 2008 R2", "windows", True, True),
]


def seed(apps: Any, schema_editor: Any) -> None:
    Location = apps.get_model("catalog", "Location")
    NetworkTier = apps.get_model("catalog", "NetworkTier")
    OsImage = apps.get_model("catalog", "OsImage")
    for code, name, country in LOCATIONS:
        Location.objects.get_or_create(code=code, defaults={"name": name, "country": country})
    for code, name, order, description in TIERS:
        NetworkTier.objects.get_or_create(
            code=code, defaults={"name": name, "sort_order": order, "description": description}
        )
    for code, name, family, activation, eol in IMAGES:
        OsImage.objects.get_or_create(
            code=code,
            defaults={"name": name, "family": family, "requires_self_activation": activation, "end_of_life": eol},
        )


def ensure_catalog_seed() -> None:
    from django.apps import apps

    seed(apps, None)
