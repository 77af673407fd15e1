"""Files people send us (ticket attachments, legal documents): a short list of kinds, a size limit, and
a check that a file is what its name says, so that nothing is served back as something it is not."""

from __future__ import annotations

from django.conf import settings

from megalayer.core.errors import InvalidInput

ALLOWED_EXTENSIONS = {".txt", ".log", ".csv", ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".zip", ".gz", ".eml", ".json"}
MAGIC = {".png": b"\x89PNG", ".pdf": b"%PDF", ".gif": b"GIF8", ".jpg": b"\xff\xd8", ".jpeg": b"\xff\xd8", ".zip": b"PK"}


def base_name(name: str) -> str:
    """The file's own name, without any directory a browser or client sent with it."""
    return name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]


def upload_check(name: str, content: bytes, *, field: str) -> str:
    """Refuse a file of a kind not on the list, too large, or whose first bytes belie its name;
    return its base name."""
    name = base_name(name)
    extension = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if extension not in ALLOWED_EXTENSIONS:
        raise InvalidInput(f"{name}: allowed are {', '.join(sorted(ALLOWED_EXTENSIONS))}.", field=field)
    if len(content) > settings.MEGALAYER_ATTACHMENT_MAX_BYTES:
        limit = settings.MEGALAYER_ATTACHMENT_MAX_BYTES // (1024 * 1024)
        raise InvalidInput(f"{name} is larger than {limit} MB.", field=field)
    magic = MAGIC.get(extension)
    if magic and not content.startswith(magic):
        raise InvalidInput(f"{name} is not really a {extension[1:]} file.", field=field)
    return name
