"""The values HTTP signature code works on: headers, a request or response, a parsed signature.

They hold what was received, byte for byte where it matters (the request target as sent, the
body bytes), and know nothing of any web framework.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import httpx

from node.activitypub.signatures.errors import InvalidSignature, MalformedSignature
from node.activitypub.signatures.sf import Item, Params

Scheme = Literal["cavage", "rfc9421"]


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued, immutable header fields, in the order received.

    ``headers[name]`` is the combined value: each field line trimmed, joined with ``", "``, as
    both draft-cavage (section 2.3) and RFC 9421 (section 2.1) build it.
    """

    __slots__ = ("_lines",)

    def __init__(self, source: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        if isinstance(source, Headers):
            pairs: Iterable[tuple[str, str]] = source.lines()
        else:
            pairs = source.items() if isinstance(source, Mapping) else source
        self._lines: tuple[tuple[str, str], ...] = tuple((str(k), str(v)) for k, v in pairs)

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Headers from raw byte pairs (as ASGI servers give them), decoded as Latin-1."""
        return cls((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)

    def get_all(self, name: str) -> list[str]:
        """Every field line value for ``name``, untrimmed, in order."""
        wanted = name.lower()
        return [value for key, value in self._lines if key.lower() == wanted]

    def lines(self) -> tuple[tuple[str, str], ...]:
        """All ``(name, value)`` field lines as received."""
        return self._lines

    def replace(self, updates: Mapping[str, str]) -> Headers:
        """A copy where each name in ``updates`` has that single value instead of its old ones."""
        names = {name.lower() for name in updates}
        kept = [(key, value) for key, value in self._lines if key.lower() not in names]
        return Headers([*kept, *updates.items()])

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return ", ".join(value.strip() for value in values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(key.lower() == name.lower() for key, _ in self._lines)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(key.lower() for key, _ in self._lines))

    def __len__(self) -> int:
        return len({key.lower() for key, _ in self._lines})

    def __repr__(self) -> str:
        return f"Headers({list(self._lines)!r})"


@dataclass(frozen=True)
class SignedRequest:
    """A request as received: ``target`` is the path plus an optional ``?query``, as sent."""

    method: str
    target: str
    headers: Headers
    body: bytes | None = None

    @property
    def path(self) -> str:
        """The target without its query (``/`` when empty)."""
        return self.target.partition("?")[0] or "/"

    @property
    def query(self) -> str | None:
        """The query string without ``?``, or None when the target has none."""
        path, sep, query = self.target.partition("?")
        return query if sep else None

    @classmethod
    def from_httpx(cls, request: httpx.Request) -> SignedRequest:
        """The request an httpx client is about to send (its body must have been read)."""
        return cls(
            method=request.method,
            target=request.url.raw_path.decode("ascii"),
            headers=Headers(request.headers.multi_items()),
            body=request.content,
        )


@dataclass(frozen=True)
class SignedResponse:
    """A response, with the request it answers when RFC 9421 ``;req`` components need it."""

    status: int
    headers: Headers
    body: bytes | None = None
    request: SignedRequest | None = None


Message = SignedRequest | SignedResponse


@dataclass(frozen=True)
class ParsedSignature:
    """What a signature header says, before any key is looked up.

    ``covered`` lists the covered components: header names and ``(request-target)``-style
    pseudo-headers for cavage; component identifiers for RFC 9421, with their parameters
    (``@query-param;name="Pet"``). ``components`` and ``params`` keep the RFC 9421 structure
    needed to rebuild the signature base.
    """

    scheme: Scheme
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]
    signature: bytes = field(repr=False)
    created: int | None = None
    expires: int | None = None
    label: str | None = None
    components: tuple[Item, ...] = ()
    params: Params = field(default_factory=dict)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_authority(host: str, scheme: str) -> str:
    """A Host value as RFC 9421 ``@authority`` wants it: lowercase, without the default port."""
    host = host.strip().lower()
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and not name.endswith("]") and ":" in name:
        return host  # a bare IPv6 address, not host:port
    if sep and port.isdigit() and int(port) == _DEFAULT_PORTS.get(scheme.lower()):
        return name
    return host


def split_url(url: str) -> tuple[str, str, str]:
    """``(scheme, authority, target)`` of an absolute URL; the target keeps its query."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"not an absolute URL: {url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    authority = host if parts.port is None else f"{host}:{parts.port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme.lower(), normalize_authority(authority, parts.scheme), target


def wire_bytes(text: str) -> bytes:
    """Text back to the bytes it came from: Latin-1 (how headers are decoded), else UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def utc_now(now: datetime | None) -> datetime:
    """``now`` (which must be aware) or the current time, in UTC."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


def timestamp(value: int, what: str) -> datetime:
    """A Unix timestamp parameter as an aware datetime; MalformedSignature if out of range."""
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise MalformedSignature(f"{what} is not a usable timestamp") from exc


def check_window(moment: datetime, now: datetime, max_skew: timedelta, what: str) -> None:
    """Refuse a signing time further than ``max_skew`` from ``now`` in either direction."""
    if moment > now + max_skew:
        raise InvalidSignature(f"{what} is in the future ({moment.isoformat()})")
    if moment < now - max_skew:
        raise InvalidSignature(f"{what} is too old ({moment.isoformat()})")


def check_expires(expires: int | None, now: datetime) -> None:
    """Refuse a signature whose ``expires`` has passed."""
    if expires is not None and timestamp(expires, "expires") < now:
        raise InvalidSignature("the signature has expired")
