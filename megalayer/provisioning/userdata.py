"""The customer's cloud-init user data (issue 18): what is accepted, checked before anything is written.

Accepted: a ``#cloud-config`` document that parses as a YAML mapping, or a script starting with ``#!`` and an
interpreter's absolute path; UTF-8 text without NUL bytes, at most ``MEGALAYER_USER_DATA_MAX_BYTES`` (16 KiB
by default: the limit the large clouds set, and what fits a NoCloud seed comfortably). Anything else
(``#include`` lists, gzip, Jinja templates, MIME archives of the customer's own) is refused with the reason,
because the platform wraps the customer's part in its own multi-part archive (``drivers.cloudinit``).
"""

from __future__ import annotations

import yaml
from django.conf import settings

from megalayer.core.errors import InvalidInput


def user_data_check(text: str | None, *, field: str = "user_data") -> str:
    """The user data as the server will get it ("" when none), or ``InvalidInput`` naming the field."""
    if not text or not text.strip():
        return ""
    data = text.replace("\r\n", "\n")
    limit = int(settings.MEGALAYER_USER_DATA_MAX_BYTES)
    size = len(data.encode("utf-8", errors="surrogatepass"))
    if size > limit:
        raise InvalidInput(f"User data is limited to {limit // 1024} KiB; this is {size:,} bytes.", field=field)
    if "\x00" in data:
        raise InvalidInput("User data is text: it must not contain NUL bytes.", field=field)
    first = data.split("\n", 1)[0].strip()
    if first == "#cloud-config":
        try:
            document = yaml.safe_load(data)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            problem = getattr(error, "problem", None) or "not valid YAML"
            raise InvalidInput(
                f"The #cloud-config document is not valid YAML{where}: {problem}.", field=field
            ) from None
        if document is not None and not isinstance(document, dict):
            raise InvalidInput("A #cloud-config document must be a YAML mapping (keys and values).", field=field)
        return data
    if first.startswith("#!"):
        interpreter = first[2:].strip().split(" ", 1)[0]
        if not interpreter.startswith("/"):
            raise InvalidInput("A script's first line names its interpreter, e.g. #!/bin/sh.", field=field)
        return data
    raise InvalidInput(
        "Start user data with #cloud-config (a YAML document) or #! and an interpreter (a script).", field=field
    )
