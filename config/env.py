"""Typed readers for the environment: the only place that touches ``os.environ``.

Every variable read here is listed with a comment in ``.env.example``. Defaults
are safe for development; ``require_in_production`` fails fast when a secret is
missing on a production host.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _load_dotenv() -> None:
    """Read ``.env`` beside ``manage.py`` (if present) without overriding the real environment."""
    path = BASE_DIR / ".env"
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        os.environ.setdefault(name.strip(), value.strip().strip('"').strip("'"))


_load_dotenv()


def string(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def boolean(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {value!r}")


def integer(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as error:
        raise ValueError(f"{name} must be an integer, got {value!r}") from error


def string_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def require_in_production(name: str, value: str, *, debug: bool) -> str:
    """Refuse to start a production process with an empty secret."""
    if not debug and not value:
        raise RuntimeError(f"{name} must be set when MEGALAYER_DEBUG is off")
    return value


def default(name: str, value: str) -> None:
    """Give ``name`` a value unless the environment already has one (test settings use this)."""
    os.environ.setdefault(name, value)
