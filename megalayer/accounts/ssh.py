"""OpenSSH public keys read with ``cryptography``: what the platform accepts and the fingerprint it shows."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from megalayer.core.errors import InvalidInput

MAX_KEY_CHARS = 16_384
MIN_RSA_BITS = 2048


def ssh_key_parse(text: str) -> tuple[str, str, int, str]:
    """(canonical line, type, bits, fingerprint) of one OpenSSH public key, or a field error saying why not.

    Accepted: Ed25519, ECDSA (P-256/384/521) and RSA of at least 2048 bits; DSA and short RSA keys are refused,
    as OpenSSH itself refuses them today. A private key pasted by mistake is refused without being stored."""
    line = " ".join(text.strip().split())
    if not line:
        raise InvalidInput(
            "Paste the public key (one line starting ssh-ed25519, ecdsa-sha2-… or ssh-rsa).", field="public_key"
        )
    if "PRIVATE KEY" in line:
        raise InvalidInput(
            "That is a private key: paste the .pub file instead, and keep the private key secret.", field="public_key"
        )
    if len(line) > MAX_KEY_CHARS or "\n" in text.strip():
        raise InvalidInput("One public key, on one line.", field="public_key")
    parts = line.split(" ", 2)
    try:
        key = serialization.load_ssh_public_key(" ".join(parts[:2]).encode())
    except UnsupportedAlgorithm as error:  # DSA, or a type this platform does not know
        raise InvalidInput(
            "Use an Ed25519, ECDSA or RSA key (DSA keys are no longer accepted).", field="public_key"
        ) from error
    except (ValueError, TypeError, IndexError) as error:
        raise InvalidInput("This is not an OpenSSH public key.", field="public_key") from error
    if isinstance(key, ed25519.Ed25519PublicKey):
        kind, bits = "ssh-ed25519", 256
    elif isinstance(key, ec.EllipticCurvePublicKey):
        kind, bits = parts[0], key.curve.key_size
    elif isinstance(key, rsa.RSAPublicKey):
        kind, bits = "ssh-rsa", key.key_size
        if bits < MIN_RSA_BITS:
            raise InvalidInput(
                f"An RSA key needs at least {MIN_RSA_BITS} bits; this one has {bits}.", field="public_key"
            )
    else:
        raise InvalidInput("Use an Ed25519, ECDSA or RSA key (DSA keys are no longer accepted).", field="public_key")
    body = base64.b64decode(parts[1])
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")
    return line, kind, bits, fingerprint
