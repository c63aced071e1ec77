"""Remote fetches and posts: signed GETs of ActivityStreams documents, WebFinger and NodeInfo
JSON, and the POSTs delivery makes, all through the SSRF guard of
:mod:`node.activitypub.transport.guard` and within limits of time, size and redirects.

Every failure is a :class:`RemoteError` with ``url`` (the hop that failed), ``status`` (None
when there was no answer) and a stable ``reason``, sorted by what the caller should do next::

    RemoteError
    ├── Gone              410  gone: deleted for good; drop what we hold, never retry
    ├── RemoteNotFound    404  not_found: do not retry this request
    ├── TryLater          408 request_timeout, 429 rate_limited, 503 service_unavailable:
    │                          retry, not before ``retry_after`` seconds when ``Retry-After``
    │                          said (delta-seconds or HTTP-date)
    ├── Unavailable       5xx other than 503 (server_error), or no usable answer: connect_failed
    │                          (refused, reset, unknown name), timeout, tls_error,
    │                          transport_error (broken HTTP); retry with backoff
    ├── RemoteRefused     any other 4xx (400, 401, 403, 405, 422...), client_error: permanent
    └── PolicyViolation   we refused; never retried: private_address, bad_scheme, userinfo,
                               invalid_url, too_many_redirects, redirect_loop, bad_redirect (no
                               usable Location), redirected (a 3xx where none is followed, as
                               for POST), too_large, bad_content_type, bad_encoding,
                               invalid_json, not_an_object, missing_id, id_mismatch

:func:`retryable` says which are worth another try; :func:`classify_status` maps an HTTP status.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import ssl
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from node.activitypub.transport.guard import GuardedTransport, GuardError, IPNetwork, Resolver, check_url

if TYPE_CHECKING:
    from node.settings import Settings

__all__ = [
    "ACTIVITY_ACCEPT",
    "FetchedDocument",
    "Fetcher",
    "Gone",
    "JSON_ACCEPT",
    "PolicyViolation",
    "RemoteError",
    "RemoteNotFound",
    "RemoteRefused",
    "TryLater",
    "Unavailable",
    "classify_status",
    "parse_retry_after",
    "retryable",
]

ACTIVITY_ACCEPT = (
    'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
)
JSON_ACCEPT = "application/jrd+json, application/json"
# The profile parameter is not required: Mastodon's FetchResourceService compares the bare media
# type, and servers answer `application/ld+json` with or without the ActivityStreams profile.
ACTIVITY_TYPES = frozenset({"application/activity+json", "application/ld+json"})
IMAGE_ACCEPT = "image/webp, image/png, image/jpeg"
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
POST_RESPONSE_BYTES = 65_536


class RemoteError(Exception):
    """A remote request failed; the subclass says how. ``str(error)`` is for logs."""

    reason: str = "remote_error"

    def __init__(
        self, message: str, *, url: str, status: int | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        if reason is not None:
            self.reason = reason


class Gone(RemoteError):
    """410: the resource was deleted and will not come back."""

    reason = "gone"


class RemoteNotFound(RemoteError):
    """404: no such resource."""

    reason = "not_found"


class TryLater(RemoteError):
    """408, 429 or 503: the server asks us to come back, after ``retry_after`` seconds if known."""

    reason = "try_later"

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url, status=status, reason=reason)
        self.retry_after = retry_after


class Unavailable(RemoteError):
    """A server error or no usable answer (refused, reset, timed out, TLS failure)."""

    reason = "unavailable"


class RemoteRefused(RemoteError):
    """A 4xx other than 404, 408, 410 and 429: the server will not do it, retrying will not help."""

    reason = "refused"


class PolicyViolation(RemoteError):
    """We refused the request or its answer (SSRF guard, limits, malformed or foreign document)."""

    reason = "policy"


def retryable(error: BaseException) -> bool:
    """Whether the same request may succeed later (TryLater, Unavailable)."""
    return isinstance(error, TryLater | Unavailable)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; RFC 9110 dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def classify_status(status: int, headers: Mapping[str, str], url: str) -> RemoteError | None:
    """The error an HTTP status stands for, or None for 2xx."""
    message = f"{url} answered {status}"
    if 200 <= status < 300:
        return None
    if status == 410:
        return Gone(message, url=url, status=status)
    if status == 404:
        return RemoteNotFound(message, url=url, status=status)
    if status in (408, 429, 503):
        reason = {408: "request_timeout", 429: "rate_limited", 503: "service_unavailable"}[status]
        delay = parse_retry_after(_header(headers, "retry-after"))
        return TryLater(message, url=url, status=status, reason=reason, retry_after=delay)
    if 400 <= status < 500:
        return RemoteRefused(message, url=url, status=status, reason="client_error")
    if 500 <= status < 600:
        return Unavailable(message, url=url, status=status, reason="server_error")
    if 300 <= status < 400:
        return PolicyViolation(f"{url} redirected ({status})", url=url, status=status, reason="redirected")
    return Unavailable(message, url=url, status=status, reason="transport_error")


@dataclass(frozen=True)
class FetchedDocument:
    """A JSON object fetched from ``requested_url``, served in the end by ``final_url``."""

    requested_url: str
    final_url: str
    document: dict[str, Any]
    content_type: str


class _Trail:
    """The URL being requested now, so that errors name the hop that failed."""

    def __init__(self, url: str) -> None:
        self.url = url


def _policy(message: str, url: str, reason: str, status: int | None = None) -> PolicyViolation:
    return PolicyViolation(message, url=url, status=status, reason=reason)


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise _policy(f"invalid URL {url!r}: {exc}", url, "invalid_url") from None
    try:
        check_url(parsed)
    except GuardError as exc:
        raise _policy(f"{url}: {exc}", url, exc.reason) from None
    return parsed


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _transport_error(error: httpx.HTTPError, url: str) -> RemoteError:
    if isinstance(error, httpx.TimeoutException):
        return Unavailable(f"{url} timed out", url=url, reason="timeout")
    if isinstance(error, httpx.DecodingError):
        return _policy(f"{url} sent a body that cannot be decoded: {error}", url, "bad_encoding")
    if _caused_by(error, ssl.SSLError):
        return Unavailable(f"TLS with {url} failed: {error}", url=url, reason="tls_error")
    if isinstance(error, httpx.ConnectError):
        return Unavailable(f"cannot connect to {url}: {error}", url=url, reason="connect_failed")
    return Unavailable(f"{url}: {error!r}", url=url, reason="transport_error")


def _origin(url: str) -> tuple[str, bytes, int] | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    if default is None or not parsed.raw_host:
        return None
    return parsed.scheme, parsed.raw_host.lower(), parsed.port or default


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_object(body: bytes, url: str) -> dict[str, Any]:
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _policy(f"{url} did not send valid JSON: {exc}", url, "invalid_json") from None
    if not isinstance(value, dict):
        raise _policy(f"{url} sent JSON that is not an object", url, "not_an_object")
    return value


async def _read(response: httpx.Response, url: str, limit: int, *, strict: bool) -> bytes:
    """The body, at most ``limit`` bytes: too much is an error when ``strict``, else cut off."""
    declared = response.headers.get("content-length", "").strip()
    if strict and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _policy(f"{url} announces {declared} bytes, more than {limit}", url, "too_large")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        if total + len(chunk) > limit:
            if strict:
                raise _policy(f"{url} sent more than {limit} bytes", url, "too_large")
            chunks.append(chunk[: limit - total])
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _no_cookies() -> CookieJar:
    # Remote servers must not be able to make us carry state from one request to the next.
    # (A jar, not httpx.Cookies: the client copies those into a jar with the default policy.)
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class Fetcher:
    """Fetches remote documents and posts to remote inboxes, through one guarded httpx client.

    ``timeout`` bounds each whole call, redirects included; ``max_bytes`` bounds a body;
    ``signer`` (the node actor's :class:`~node.activitypub.signatures.HttpSignatureAuth`) signs
    ActivityStreams GETs, for servers that require authorized fetch. ``resolver``, ``exempt``
    and ``verify`` are passed to the guard (see :mod:`node.activitypub.transport.guard`).
    Use it as ``async with Fetcher(...) as fetcher:``, or call :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        allow_private: bool = False,
        signer: httpx.Auth | None = None,
        timeout: float = 10,
        max_bytes: int = 1_048_576,
        max_redirects: int = 3,
        resolver: Resolver | None = None,
        exempt: Iterable[IPNetwork] = (),
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.signer = signer
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.transport = GuardedTransport(
            allow_private=allow_private, resolver=resolver, exempt=exempt, verify=verify
        )
        self._client = httpx.AsyncClient(
            transport=self.transport,
            # Ask for uncompressed answers: the cap counts decoded bytes, but one small compressed
            # chunk can still unpack to many megabytes in memory before it is counted.
            headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            cookies=_no_cookies(),
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        signer: httpx.Auth | None = None,
        *,
        timeout: float = 10,
        max_bytes: int = 1_048_576,
        max_redirects: int = 3,
    ) -> Fetcher:
        """A fetcher for this node: its address policy, and a User-Agent naming it."""
        try:
            version = importlib.metadata.version("asasap")
        except importlib.metadata.PackageNotFoundError:
            version = "0"
        return cls(
            user_agent=f"asasap/{version} (+{settings.base_url.rstrip('/')}/)",
            allow_private=settings.allow_private_addresses,
            signer=signer,
            timeout=timeout,
            max_bytes=max_bytes,
            max_redirects=max_redirects,
        )

    async def __aenter__(self) -> Fetcher:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection."""
        await self._client.aclose()

    @contextlib.contextmanager
    def _limits(self, trail: _Trail) -> Iterator[None]:
        """Apply the overall deadline and turn transport and guard failures into RemoteErrors."""
        try:
            with anyio.fail_after(self.timeout):
                yield
        except TimeoutError:
            raise Unavailable(
                f"{trail.url} took more than {self.timeout} s", url=trail.url, reason="timeout"
            ) from None
        except GuardError as exc:
            raise _policy(f"{trail.url}: {exc}", trail.url, exc.reason) from None
        except httpx.HTTPError as exc:
            raise _transport_error(exc, trail.url) from exc

    def _redirect(self, current: httpx.URL, response: httpx.Response, seen: set[str]) -> httpx.URL:
        """The next URL of a redirect chain; refuses a bad Location, a loop and too many hops."""
        hop, status = str(current), response.status_code
        location = response.headers.get("location", "")
        try:
            target = current.join(location) if location else None
        except httpx.InvalidURL:
            target = None
        if target is None:
            raise _policy(f"{hop} redirected to {location!r}", hop, "bad_redirect", status)
        check_url(target)
        key = str(target.copy_with(fragment=None))
        if key in seen:
            raise _policy(f"{hop} redirected back to {key}", hop, "redirect_loop", status)
        if len(seen) > self.max_redirects:
            raise _policy(f"more than {self.max_redirects} redirects", hop, "too_many_redirects", status)
        seen.add(key)
        return target.copy_with(fragment=None)

    async def _get(
        self, url: str, *, accept: str, signed: bool, types: frozenset[str] | None
    ) -> tuple[str, str, bytes]:
        """GET ``url`` following redirects; ``(final url, content type, body)`` of a 2xx answer."""
        current = _parse_url(url)
        trail = _Trail(url)
        seen = {str(current.copy_with(fragment=None))}
        with self._limits(trail):
            while True:
                request = self._client.build_request("GET", current, headers={"Accept": accept})
                response = await self._client.send(request, auth=self.signer if signed else None, stream=True)
                try:
                    if response.status_code in REDIRECTS:
                        current = self._redirect(current, response, seen)
                        trail.url = str(current)
                        continue
                    error = classify_status(response.status_code, response.headers, trail.url)
                    if error is not None:
                        raise error
                    content_type = response.headers.get("content-type", "")
                    if types is not None and _media_type(content_type) not in types:
                        message = f"{trail.url} sent {content_type or 'no content type'}"
                        raise _policy(message, trail.url, "bad_content_type", response.status_code)
                    body = await _read(response, trail.url, self.max_bytes, strict=True)
                    return trail.url, content_type, body
                finally:
                    await response.aclose()

    async def get_activity(self, url: str) -> FetchedDocument:
        """Fetch an ActivityStreams object, signed when the fetcher has a signer.

        The answer must have an ActivityStreams content type, be a JSON object, and carry an
        ``id`` of the same origin (scheme, host, port) as the URL that finally served it.
        """
        final_url, content_type, body = await self._get(
            url, accept=ACTIVITY_ACCEPT, signed=True, types=ACTIVITY_TYPES
        )
        document = _json_object(body, final_url)
        object_id = document.get("id")
        if not isinstance(object_id, str) or not object_id:
            raise _policy(f"{final_url} sent a document without an id", final_url, "missing_id")
        if _origin(object_id) is None or _origin(object_id) != _origin(final_url):
            message = f"{final_url} sent a document with the id {object_id!r} of another origin"
            raise _policy(message, final_url, "id_mismatch")
        return FetchedDocument(url, final_url, document, content_type)

    async def get_json(self, url: str, accept: str = JSON_ACCEPT, *, signed: bool = False) -> FetchedDocument:
        """Fetch any JSON object (WebFinger, NodeInfo), with the same guard, redirects and size cap."""
        final_url, content_type, body = await self._get(url, accept=accept, signed=signed, types=None)
        return FetchedDocument(url, final_url, _json_object(body, final_url), content_type)

    async def get_image(self, url: str) -> bytes:
        """Fetch a picture (JPEG, PNG or WebP by its content type; the bytes still have to be checked),
        unsigned, with the same guard, redirects and size cap."""
        _, _, body = await self._get(url, accept=IMAGE_ACCEPT, signed=False, types=IMAGE_TYPES)
        return body

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], auth: httpx.Auth | None = None
    ) -> httpx.Response:
        """POST ``body`` to ``url`` once, without following redirects; the 2xx answer, or a RemoteError.

        The returned response holds at most the first 64 KiB of the remote body.
        """
        target = _parse_url(url)
        trail = _Trail(url)
        with self._limits(trail):
            request = self._client.build_request("POST", target, content=body, headers=dict(headers))
            response = await self._client.send(request, auth=auth, stream=True)
            try:
                content = await _read(response, url, POST_RESPONSE_BYTES, strict=False)
            finally:
                await response.aclose()
        error = classify_status(response.status_code, response.headers, url)
        if error is not None:
            raise error
        stale = {"content-length", "content-encoding", "transfer-encoding"}
        kept = [(name, value) for name, value in response.headers.multi_items() if name.lower() not in stale]
        return httpx.Response(response.status_code, headers=kept, content=content, request=request)
