"""HTTP signatures: verify what the inbox receives, sign what we send.

Accepted: draft-cavage-http-signatures-12 (``Signature:`` or ``Authorization: Signature``, with
``rsa-sha256`` or ``hs2019``) and RFC 9421 HTTP Message Signatures (``Signature-Input`` and
``Signature``). Sent: draft-cavage ``rsa-sha256`` exactly as Mastodon sends it, through
:class:`HttpSignatureAuth`.

Checking is two steps, so that the key lookup stays outside this framework-free module::

    parsed = parse_signature(request)             # no key needed; MalformedSignature if unusable
    key = await lookup(parsed.key_id)             # the caller's job (database or fetch)
    verify_signature(request, parsed, key)        # raises, or returns None when valid

The caller then binds the key to the activity's actor (``VerificationKey.owner``).

Verification fails closed. Whatever the signature says, it must cover: for draft-cavage
``(request-target)``, ``host``, ``date`` (or ``(created)`` with ``hs2019``) and ``digest`` when
there is a body; for RFC 9421 ``@method``, ``@target-uri`` (or ``@path`` and ``@authority``),
``content-digest`` when there is a body, and carry a ``created`` parameter. The digest is
recomputed from the body bytes, and the date or ``created`` must lie within ``max_skew`` of now.

Errors (all from :mod:`node.activitypub.signatures.errors`; ``http_status(error)`` or
``error.status_code`` gives the answer to send)::

    SignatureError                 base class, never raised itself
    ├── MalformedSignature   400   no signature, unparseable header, unsupported algorithm name,
    │   │                          a required component not covered, a covered header missing
    │   └── MalformedDigest  400   unparseable digest header, or no supported digest algorithm
    └── InvalidSignature     401   cryptographic failure, date or created outside the window,
        │                          expired, key type not matching the algorithm, wrong key id
        ├── DigestMismatch   401   the body does not match the signed digest
        └── UnusableKey      401   the published key cannot be loaded or used
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta

import httpx

from node.activitypub.signatures.cavage import parse_cavage, sign_cavage, verify_cavage
from node.activitypub.signatures.errors import (
    DigestMismatch,
    InvalidSignature,
    MalformedDigest,
    MalformedSignature,
    SignatureError,
    UnusableKey,
    http_status,
)
from node.activitypub.signatures.keys import (
    KeyInput,
    PrivateKey,
    PublicKey,
    SharedSecret,
    VerificationKey,
    load_private_key_pem,
    load_public_key_pem,
    public_pem,
)
from node.activitypub.signatures.message import (
    Headers,
    Message,
    ParsedSignature,
    SignedRequest,
    SignedResponse,
)
from node.activitypub.signatures.rfc9421 import parse_rfc9421, sign_rfc9421, verify_rfc9421

__all__ = [
    "DigestMismatch",
    "Headers",
    "HttpSignatureAuth",
    "InvalidSignature",
    "KeyInput",
    "MalformedDigest",
    "MalformedSignature",
    "ParsedSignature",
    "PrivateKey",
    "PublicKey",
    "SharedSecret",
    "SignatureError",
    "SignedRequest",
    "SignedResponse",
    "UnusableKey",
    "VerificationKey",
    "http_status",
    "load_private_key_pem",
    "load_public_key_pem",
    "parse_signature",
    "public_pem",
    "sign_cavage",
    "sign_rfc9421",
    "verify_signature",
]

DEFAULT_MAX_SKEW = timedelta(hours=1)


def parse_signature(message: Message, *, label: str | None = None) -> ParsedSignature:
    """Read the signature a request carries, without any key.

    ``Signature-Input`` means RFC 9421 (``label`` picks a signature, else the first one);
    otherwise a ``Signature`` header or ``Authorization: Signature`` means draft-cavage.
    Raises :class:`MalformedSignature` when there is none or it cannot be used.
    """
    if "signature-input" in message.headers:
        return parse_rfc9421(message.headers, label)
    return parse_cavage(message.headers)


def verify_signature(
    message: Message,
    parsed: ParsedSignature,
    key: KeyInput,
    *,
    now: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    require_digest_for_body: bool = True,
    enforce_policy: bool = True,
    scheme: str = "https",
) -> None:
    """Verify ``parsed`` over ``message`` with ``key``; return None or raise a SignatureError.

    ``key`` is a public key, a :class:`VerificationKey` (whose ``key_id`` must be the signed
    one), or a :class:`SharedSecret` for RFC 9421 ``hmac-sha256``. ``scheme`` is how the request
    reached us, for RFC 9421 ``@target-uri`` and ``@scheme``. ``enforce_policy=False`` skips the
    required-components policy; it exists for test vectors and diagnostics only.
    """
    if parsed.scheme == "cavage":
        verify_cavage(
            message,
            parsed,
            key,
            now=now,
            max_skew=max_skew,
            require_digest_for_body=require_digest_for_body,
            enforce_policy=enforce_policy,
        )
    else:
        verify_rfc9421(
            message,
            parsed,
            key,
            now=now,
            max_skew=max_skew,
            require_digest_for_body=require_digest_for_body,
            enforce_policy=enforce_policy,
            scheme=scheme,
        )


class HttpSignatureAuth(httpx.Auth):
    """Signs every request an httpx client sends with a draft-cavage signature, as Mastodon does.

    Sets ``Host`` when absent, ``Date``, ``Digest`` for a body, and ``Signature``.
    """

    requires_request_body = True

    def __init__(self, *, key_id: str, private_key: PrivateKey) -> None:
        self.key_id = key_id
        self.private_key = private_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        added = sign_cavage(
            request.method,
            str(request.url),
            request.headers.multi_items(),
            request.content,
            key_id=self.key_id,
            private_key=self.private_key,
        )
        for name, value in added.items():
            request.headers[name] = value
        yield request
