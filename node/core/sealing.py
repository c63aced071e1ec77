"""Encryption at rest with keys derived from the node secret: AES-256-GCM, one derived key per purpose.

Used for actors' private keys and for the contact details parties share inside an agreement. A sealed
value is ``v1:<base64(nonce || ciphertext)>``; the purpose is bound as associated data, so a value sealed
for one purpose cannot be opened as another.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class UnsealError(Exception):
    """A sealed value cannot be opened: the node secret changed, or the value is damaged."""


@lru_cache(maxsize=16)
def _key(secret: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"asasap", info=purpose.encode()).derive(
        secret.encode()
    )


def seal(secret: str, purpose: str, plaintext: bytes) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret, purpose)).encrypt(nonce, plaintext, purpose.encode())
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def unseal(secret: str, purpose: str, value: str) -> bytes:
    version, _, payload = value.partition(":")
    if version != "v1":
        raise UnsealError("unknown sealed format")
    try:
        raw = base64.b64decode(payload, validate=True)
        return AESGCM(_key(secret, purpose)).decrypt(raw[:12], raw[12:], purpose.encode())
    except (ValueError, InvalidTag) as exc:
        raise UnsealError("cannot open the sealed value: was ASASAP_SECRET_KEY changed?") from exc
