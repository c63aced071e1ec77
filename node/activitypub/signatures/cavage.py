"""draft-cavage-http-signatures-12, the HTTP signatures the fediverse sends today.

Accepted algorithms are ``rsa-sha256`` (RSASSA-PKCS1-v1_5 with SHA-256) and ``hs2019``, whose
real algorithm follows from the key: RSA is verified as PKCS#1 v1.5 with SHA-256 (as Mastodon
does), Ed25519 as Ed25519, and ECDSA P-256 with SHA-256. A signature without an ``algorithm``
parameter is treated as ``hs2019``. We sign exactly as Mastodon does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

from node.activitypub.signatures.digest import digest_header, verify_body_digest
from node.activitypub.signatures.errors import InvalidSignature, MalformedSignature
from node.activitypub.signatures.keys import (
    ECDSA_P256_SHA256,
    RSA_V1_5_SHA256,
    KeyInput,
    PrivateKey,
    SharedSecret,
    algorithm_for_key,
    ecdsa_der_from_raw,
    ecdsa_raw_from_der,
    sign_with,
    unwrap_key,
    verify_with,
)
from node.activitypub.signatures.message import (
    Headers,
    Message,
    ParsedSignature,
    SignedRequest,
    check_expires,
    check_window,
    split_url,
    timestamp,
    utc_now,
    wire_bytes,
)

RSA_SHA256 = "rsa-sha256"
HS2019 = "hs2019"
CAVAGE_ALGORITHMS = frozenset({RSA_SHA256, HS2019})

REQUEST_TARGET = "(request-target)"
CREATED = "(created)"
EXPIRES = "(expires)"

_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([0-9]+))\s*(,|$)')
_SIGN_POST = (REQUEST_TARGET, "host", "date", "digest", "content-type")
_SIGN_GET = (REQUEST_TARGET, "host", "date", "accept")


def _parameters(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        match = _PARAM.match(value, pos)
        if match is None:
            raise MalformedSignature(f"cannot parse the signature parameters at {pos}")
        name = match.group(1)
        if name in params:
            raise MalformedSignature(f"repeated signature parameter {name!r}")
        quoted = match.group(2)
        params[name] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
        pos = match.end()
        if match.group(4) == "," and pos >= len(value):
            raise MalformedSignature("trailing comma in the signature parameters")
    return params


def _integer(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    if not params[name].isdigit():
        raise MalformedSignature(f"{name} must be an integer")
    return int(params[name])


def parse_cavage(headers: Headers) -> ParsedSignature:
    """Parse a ``Signature`` header, or ``Authorization: Signature ...`` when there is none."""
    if "signature" in headers:
        value = headers["signature"]
    else:
        scheme, _, value = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "signature":
            raise MalformedSignature("no Signature header")
    params = _parameters(value.strip())
    if not params.get("keyId") or "signature" not in params:
        raise MalformedSignature("the signature needs keyId and signature")
    algorithm = params["algorithm"].lower() if "algorithm" in params else None
    if algorithm is not None and algorithm not in CAVAGE_ALGORITHMS:
        raise MalformedSignature(f"unsupported algorithm {algorithm!r} (want rsa-sha256 or hs2019)")
    # draft-12 section 2.1.6 makes "(created)" the default; Mastodon and Appendix C use "date".
    default = CREATED if algorithm == HS2019 else "date"
    covered = tuple(params.get("headers", default).lower().split())
    if not covered:
        raise MalformedSignature("the headers parameter is empty")
    if len(set(covered)) != len(covered):
        raise MalformedSignature("a header is listed twice in the headers parameter")
    if algorithm == RSA_SHA256 and (CREATED in covered or EXPIRES in covered):
        # draft-12 section 2.3: (created) and (expires) with an rsa-* algorithm MUST be an error.
        raise MalformedSignature("(created) and (expires) cannot be signed with rsa-sha256")
    created, expires = _integer(params, "created"), _integer(params, "expires")
    if (CREATED in covered and created is None) or (EXPIRES in covered and expires is None):
        raise MalformedSignature("a covered (created) or (expires) has no parameter value")
    try:
        signature = base64.b64decode(params["signature"], validate=True)
    except binascii.Error as exc:
        raise MalformedSignature("the signature is not base64") from exc
    return ParsedSignature(
        scheme="cavage",
        key_id=params["keyId"],
        algorithm=algorithm,
        covered=covered,
        signature=signature,
        created=created,
        expires=expires,
    )


def signing_text(fields: Iterable[tuple[str, str]]) -> bytes:
    """The bytes a cavage signature covers: one ``name: value`` line per covered field, in order."""
    lines = []
    for name, value in fields:
        if "\n" in value or "\r" in value:
            raise MalformedSignature(f"the signed header {name!r} contains a line break")
        lines.append(f"{name}: {value}")
    return wire_bytes("\n".join(lines))


def signature_header(
    covered: Iterable[str], text: bytes, *, key_id: str, private_key: PrivateKey, algorithm: str = RSA_SHA256
) -> str:
    """The ``Signature`` header value of a cavage signature of ``text`` (the signing text of ``covered``)
    by ``private_key``: ``rsa-sha256`` as Mastodon signs, or ``hs2019`` with the key's own algorithm."""
    if algorithm not in CAVAGE_ALGORITHMS:
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    if '"' in key_id or "\\" in key_id:
        raise ValueError("the key id cannot contain quotes or backslashes")
    key_algorithm = RSA_V1_5_SHA256 if algorithm == RSA_SHA256 else algorithm_for_key(private_key)
    raw = sign_with(key_algorithm, private_key, text)
    if key_algorithm == ECDSA_P256_SHA256:
        raw = ecdsa_der_from_raw(raw)
    encoded = base64.b64encode(raw).decode("ascii")
    return f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(covered)}",signature="{encoded}"'


def signing_string(
    request: SignedRequest,
    covered: Iterable[str],
    *,
    target: str | None = None,
    created: int | None = None,
    expires: int | None = None,
) -> bytes:
    """The bytes a cavage signature covers; ``target`` overrides the request target."""
    fields: list[tuple[str, str]] = []
    for name in covered:
        if name == REQUEST_TARGET:
            value = f"{request.method.lower()} {request.target if target is None else target}"
        elif name in (CREATED, EXPIRES):
            number = created if name == CREATED else expires
            if number is None:
                raise MalformedSignature(f"{name} is covered but has no value")
            value = str(number)
        elif name.startswith("("):
            raise MalformedSignature(f"unknown pseudo-header {name}")
        elif name not in request.headers:
            raise MalformedSignature(f"the signed header {name!r} is missing")
        else:
            value = request.headers[name]
        fields.append((name, value))
    return signing_text(fields)


def _check_coverage(request: SignedRequest, parsed: ParsedSignature, require_digest_for_body: bool) -> None:
    covered = set(parsed.covered)
    missing = [name for name in (REQUEST_TARGET, "host") if name not in covered]
    if "date" not in covered and (parsed.algorithm == RSA_SHA256 or CREATED not in covered):
        missing.append("date" if parsed.algorithm == RSA_SHA256 else "date or (created)")
    if request.body and require_digest_for_body and "digest" not in covered:
        missing.append("digest")
    if missing:
        raise MalformedSignature(f"the signature does not cover {', '.join(missing)}")


def _date_header(request: SignedRequest) -> datetime:
    try:
        value = parsedate_to_datetime(request.headers["date"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise MalformedSignature("the Date header is missing or unparseable") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def verify_cavage(
    message: Message,
    parsed: ParsedSignature,
    key: KeyInput,
    *,
    now: datetime | None,
    max_skew: timedelta,
    require_digest_for_body: bool,
    enforce_policy: bool,
) -> None:
    """Verify a parsed cavage signature; see :func:`node.activitypub.signatures.verify_signature`."""
    if not isinstance(message, SignedRequest):
        raise MalformedSignature("draft-cavage signatures sign requests only")
    if enforce_policy:
        _check_coverage(message, parsed, require_digest_for_body)
    moment = utc_now(now)
    if "date" in parsed.covered:
        check_window(_date_header(message), moment, max_skew, "the Date header")
    if CREATED in parsed.covered and parsed.created is not None:
        check_window(timestamp(parsed.created, "created"), moment, max_skew, "created")
    if EXPIRES in parsed.covered:
        check_expires(parsed.expires, moment)
    if "digest" in parsed.covered:
        verify_body_digest(message.headers, message.body)

    public, _ = unwrap_key(key, parsed.key_id)
    if isinstance(public, SharedSecret):
        raise InvalidSignature("shared secrets are not accepted with draft-cavage signatures")
    algorithm = RSA_V1_5_SHA256 if parsed.algorithm == RSA_SHA256 else algorithm_for_key(public)
    signature = parsed.signature
    if algorithm == ECDSA_P256_SHA256:
        # hs2019 leaves the ECDSA encoding open: DER is what signers use, raw r||s is accepted too.
        try:
            signature = ecdsa_raw_from_der(signature)
        except InvalidSignature:
            pass  # not DER: verify_with checks it as raw r||s

    targets = [message.target]
    if REQUEST_TARGET in parsed.covered and message.query is not None:
        # Misskey and bovine sign the (request-target) path without its query string.
        targets.append(message.target.partition("?")[0])
    failure = InvalidSignature("the signature does not verify")
    for target in targets:
        data = signing_string(
            message, parsed.covered, target=target, created=parsed.created, expires=parsed.expires
        )
        try:
            verify_with(algorithm, public, data, signature)
            return
        except InvalidSignature as exc:
            failure = exc
    raise failure


def sign_cavage(
    method: str,
    url: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes | None,
    *,
    key_id: str,
    private_key: PrivateKey,
    now: datetime | None = None,
    algorithm: str = RSA_SHA256,
) -> dict[str, str]:
    """The headers to add to sign a request as Mastodon does (``Host`` only when absent).

    POST (and any request with a body) signs ``(request-target) host date digest content-type``,
    GET signs ``(request-target) host date accept``; headers that are absent are left out. The
    ``Date`` is an RFC 7231 IMF-fixdate and a body gets ``Digest: SHA-256=...``. ``algorithm``
    may be ``hs2019`` to sign with a non-RSA key (ECDSA signatures are then DER-encoded).
    """
    if algorithm not in CAVAGE_ALGORITHMS:
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    _, authority, target = split_url(url)
    existing = Headers(headers)
    added: dict[str, str] = {}
    if "host" not in existing:
        added["Host"] = authority
    added["Date"] = format_datetime(utc_now(now).replace(microsecond=0), usegmt=True)
    has_body = bool(body) or method.upper() in ("POST", "PUT", "PATCH")
    if has_body:
        added["Digest"] = digest_header(body or b"")
    request = SignedRequest(method.upper(), target, existing.replace(added), body)
    wanted = _SIGN_POST if has_body else _SIGN_GET
    covered = [name for name in wanted if name == REQUEST_TARGET or name in request.headers]
    text = signing_string(request, covered)
    added["Signature"] = signature_header(
        covered, text, key_id=key_id, private_key=private_key, algorithm=algorithm
    )
    return added
