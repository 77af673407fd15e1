"""Secrets at rest: driver credentials and an operation's passwords are stored encrypted (issue 14, item 15).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under keys from the environment
(``MEGALAYER_ENCRYPTION_KEYS``, comma-separated). ``MultiFernet`` encrypts with the first key and decrypts
with any, which is what key rotation needs: put a new key first, run ``megalayer rotate_encryption_keys``
(every stored value is re-encrypted with it), then drop the old key. A database dump or backup alone then
holds no usable credential.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "derived_key", "encrypt", "rotate", "valid_key"]


def derived_key(secret: str) -> str:
    """A Fernet key derived from another secret: the demo's and tests' default, never production's."""
    digest = hashlib.sha256(b"megalayer-at-rest:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def valid_key(key: str) -> bool:
    try:
        Fernet(key.encode())
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.MEGALAYER_ENCRYPTION_KEYS))


def encrypt(plaintext: bytes) -> str:
    return _current().encrypt(plaintext).decode()


def decrypt(token: str) -> bytes:
    """The plaintext; ``InvalidToken`` if no configured key opens it (a key was dropped too soon)."""
    return _current().decrypt(token.encode())


def rotate(token: str) -> str:
    """The same plaintext encrypted with the first key (a no-op in effect when it already was)."""
    return _current().rotate(token.encode()).decode()
