"""Errors raised while checking HTTP signatures and body digests.

The tree, and the HTTP status an inbox answers with::

    SignatureError                 base class, never raised itself
    ├── MalformedSignature   400   a header is missing or unparseable, an algorithm is unknown,
    │   │                          or the signature does not cover what our policy requires
    │   └── MalformedDigest  400   a Digest / Content-Digest header is unparseable or has no
    │                              algorithm we support
    └── InvalidSignature     401   the signature does not verify, its date is outside the
        │                          accepted window, or the key does not fit the algorithm
        ├── DigestMismatch   401   the body bytes do not match the digest that was signed
        └── UnusableKey      401   the signer's published key cannot be loaded or used

This module has no imports from the rest of the package so that ``digest`` and the signature
modules can share the tree without an import cycle.
"""

from __future__ import annotations


class SignatureError(Exception):
    """Base class of every signature or digest failure."""

    status_code = 400


class MalformedSignature(SignatureError):
    """The request cannot be checked as sent: answer 400."""

    status_code = 400


class InvalidSignature(SignatureError):
    """The request was checked and refused: answer 401."""

    status_code = 401


class MalformedDigest(MalformedSignature):
    """A digest header is unparseable or names no supported algorithm."""


class DigestMismatch(InvalidSignature):
    """The digest recomputed from the body differs from the one sent."""


class UnusableKey(InvalidSignature):
    """A public key that cannot be loaded, or of a type we do not verify with."""


def http_status(error: SignatureError) -> int:
    """The HTTP status an inbox should answer ``error`` with (400 or 401)."""
    return error.status_code
