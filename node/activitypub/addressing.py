"""Addressing, in one place: the ActivityStreams contexts and public collection, the id and the types of
a value as servers send them, and origins and domains of URIs.

Servers write the same things several ways: the public collection as its IRI, ``as:Public`` or
``Public``; a reference as an id, an object with an ``id``, or a one-element list of either; a type as a
string or a list. These readers accept every such shape and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlsplit

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PUBLIC = AS_CONTEXT + "#Public"
# Compacted forms of the public collection that some LitePub-family servers send.
PUBLIC_ADDRESSES = frozenset({PUBLIC, "as:Public", "Public"})
MAX_URI_LENGTH = 2048  # the longest URI a column holds (bytes of UTF-8)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSAFE_IN_URI = re.compile(r"[\x00-\x20\x7f]")


def is_public(address: object) -> bool:
    """Whether ``address`` (a string, or an object with an ``id``) names the public collection."""
    return id_of(address) in PUBLIC_ADDRESSES


def id_of(value: object) -> str | None:
    """The id of a reference: a non-empty string, an object's ``id``, or either in a one-element list."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def types_of(value: object) -> tuple[str, ...]:
    """The types an object says it has (``type`` as a string or a list of strings), in order."""
    if not isinstance(value, Mapping):
        return ()
    kind = value.get("type")
    if isinstance(kind, str):
        return (kind,) if kind else ()
    if isinstance(kind, list):
        return tuple(k for k in kind if isinstance(k, str) and k)
    return ()


def is_uri(value: object) -> bool:
    """Whether ``value`` is an absolute http(s) URI without spaces, of a length we store."""
    if not isinstance(value, str) or not value or len(value) > MAX_URI_LENGTH:
        return False
    if any(char.isspace() for char in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def storable_uri(uri: str) -> bool:
    """Whether ``uri`` fits a URI column: not too long, no spaces or control characters, encodable."""
    if _UNSAFE_IN_URI.search(uri):
        return False
    try:
        return len(uri.encode("utf-8")) <= MAX_URI_LENGTH
    except UnicodeEncodeError:  # a lone surrogate
        return False


@lru_cache(maxsize=4096)
def origin_of(uri: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an absolute http(s) URI, default ports filled in; None otherwise."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def same_origin(a: str, b: str) -> bool:
    """Whether two URIs are absolute http(s) URIs of the same origin."""
    origin = origin_of(a)
    return origin is not None and origin == origin_of(b)


def origin(uri: str) -> str:
    """``scheme://host[:port]`` of ``uri`` as written, lower-cased."""
    parts = urlsplit(uri)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def domain_of(uri: str) -> str:
    """Host and port of ``uri`` (the unit of peers and blocks)."""
    return urlsplit(uri).netloc.lower()
