"""Body digests: RFC 3230 ``Digest`` (what Mastodon sends) and RFC 9530 ``Content-Digest``.

A signature only protects the body through a digest header it covers, so the digest is always
recomputed from the bytes received, never trusted as sent. Errors belong to the signature error
tree (see :mod:`node.activitypub.signatures.errors`): an unparseable header, or one naming no
algorithm we support, raises :class:`MalformedDigest` (400); a digest that differs from the body
raises :class:`DigestMismatch` (401).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping

from node.activitypub.signatures.errors import DigestMismatch, MalformedDigest
from node.activitypub.signatures.sf import Item, StructuredFieldError, parse_dictionary

__all__ = [
    "DigestMismatch",
    "MalformedDigest",
    "SUPPORTED_ALGORITHMS",
    "compute_digest",
    "content_digest_header",
    "digest_header",
    "parse_content_digest",
    "parse_digest",
    "verify_body_digest",
]

# Lowercase names as RFC 9530 registers them; RFC 3230 names are the same, case-insensitive.
_HASHES: dict[str, Callable[[bytes], bytes]] = {
    "sha-256": lambda data: hashlib.sha256(data).digest(),
    "sha-512": lambda data: hashlib.sha512(data).digest(),
}
_SIZES = {"sha-256": 32, "sha-512": 64}
SUPPORTED_ALGORITHMS = frozenset(_HASHES)

HeaderSource = Mapping[str, str] | Iterable[tuple[str, str]]


def compute_digest(body: bytes, algorithm: str) -> bytes:
    """The raw digest of ``body`` with ``algorithm`` (``sha-256`` or ``sha-512``, any case)."""
    name = algorithm.lower()
    if name not in _HASHES:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    return _HASHES[name](body)


def digest_header(body: bytes, algorithm: str = "SHA-256") -> str:
    """The RFC 3230 ``Digest`` value for ``body``, spelled as Mastodon does: ``SHA-256=<base64>``."""
    encoded = base64.b64encode(compute_digest(body, algorithm)).decode("ascii")
    return f"{algorithm.upper()}={encoded}"


def content_digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """The RFC 9530 ``Content-Digest`` value for ``body``: ``sha-256=:<base64>:``."""
    encoded = base64.b64encode(compute_digest(body, algorithm)).decode("ascii")
    return f"{algorithm.lower()}=:{encoded}:"


def _checked(name: str, value: bytes, header: str) -> bytes:
    if len(value) != _SIZES[name]:
        raise MalformedDigest(f"{header}: a {name} digest is {_SIZES[name]} bytes, got {len(value)}")
    return value


def parse_digest(value: str) -> list[tuple[str, bytes]]:
    """The supported ``(algorithm, digest)`` pairs of an RFC 3230 ``Digest`` value.

    Algorithm names come back lowercased; unknown algorithms are left out (their values are
    not even decoded, since RFC 3230 lets each algorithm choose its own encoding).
    """
    pairs: list[tuple[str, bytes]] = []
    for element in value.split(","):
        name, sep, encoded = element.strip().partition("=")
        if not sep or not name.strip() or not encoded.strip():
            raise MalformedDigest(f"Digest: cannot parse {element.strip()!r}")
        name = name.strip().lower()
        if name not in _HASHES:
            continue
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as exc:
            raise MalformedDigest(f"Digest: invalid base64 for {name}") from exc
        pairs.append((name, _checked(name, raw, "Digest")))
    return pairs


def parse_content_digest(value: str) -> list[tuple[str, bytes]]:
    """The supported ``(algorithm, digest)`` pairs of an RFC 9530 ``Content-Digest`` value."""
    try:
        members = parse_dictionary(value)
    except StructuredFieldError as exc:
        raise MalformedDigest(f"Content-Digest: {exc}") from exc
    pairs: list[tuple[str, bytes]] = []
    for name, member in members.items():
        if name not in _HASHES:
            continue
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise MalformedDigest(f"Content-Digest: {name} is not a byte sequence")
        pairs.append((name, _checked(name, member.value, "Content-Digest")))
    return pairs


def _field_values(headers: HeaderSource, name: str) -> list[str]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [value for key, value in pairs if key.lower() == name]


def verify_body_digest(headers: HeaderSource, body: bytes | None) -> None:
    """Check ``body`` against every ``Digest`` and ``Content-Digest`` the request carries.

    Each header present must name at least one supported algorithm (others are ignored), and
    every supported digest present must match the bytes. Raises :class:`MalformedDigest` when
    no digest header is present or one cannot be used, :class:`DigestMismatch` on a mismatch.
    """
    data = body or b""
    expected: list[tuple[str, bytes]] = []
    sources = (("digest", "Digest", parse_digest), ("content-digest", "Content-Digest", parse_content_digest))
    for key, label, parse in sources:
        values = _field_values(headers, key)
        if not values:
            continue
        pairs = parse(", ".join(values))
        if not pairs:
            raise MalformedDigest(f"{label}: no supported algorithm (want one of sha-256, sha-512)")
        expected.extend(pairs)
    if not expected:
        raise MalformedDigest("no Digest or Content-Digest header")
    for name, value in expected:
        if not hmac.compare_digest(compute_digest(data, name), value):
            raise DigestMismatch(f"the body does not match its {name} digest")
