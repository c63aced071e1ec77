"""Cross-checks with independent implementations: httpsig (draft-cavage) and
http-message-signatures (RFC 9421). What we sign, they verify; what they sign, we verify."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver, algorithms
from http_message_signatures import InvalidSignature as TheirInvalidSignature
from httpsig.sign import HeaderSigner
from httpsig.verify import HeaderVerifier

from node.activitypub.signatures import (
    Headers,
    InvalidSignature,
    KeyInput,
    PrivateKey,
    SignedRequest,
    VerificationKey,
    load_private_key_pem,
    parse_signature,
    public_pem,
    sign_cavage,
    sign_rfc9421,
    verify_signature,
)
from node.activitypub.signatures.digest import DigestMismatch, digest_header
from tests.support.data import VECTORS

KEYS: dict[str, Any] = json.loads((VECTORS / "rfc9421.json").read_text(encoding="utf-8"))["keys"]
RSA_PEM: str = KEYS["test-key-rsa"]["private_pem"]
RSA_KEY = load_private_key_pem(RSA_PEM)
KEY_ID = "https://node.example/users/alice#main-key"
URL = "https://remote.example/users/bob/inbox?page=1"
BODY = b'{"type": "Follow", "actor": "https://node.example/users/alice"}'
CONTENT_TYPE = "application/activity+json"


def verify(request: SignedRequest, key: KeyInput) -> None:
    verify_signature(request, parse_signature(request), key)


def with_body(request: SignedRequest, body: bytes) -> SignedRequest:
    return SignedRequest(request.method, request.target, request.headers, body)


def with_target(request: SignedRequest, target: str) -> SignedRequest:
    return SignedRequest(request.method, target, request.headers, request.body)


# --- draft-cavage with httpsig ---------------------------------------------------------------


def httpsig_verifies(headers: dict[str, str], method: str, path: str) -> bool:
    verifier = HeaderVerifier(
        headers,
        public_pem(RSA_KEY),
        required_headers=["(request-target)", "host", "date", "digest"],
        method=method,
        path=path,
        sign_header="signature",
    )
    return bool(verifier.verify())


def test_httpsig_verifies_what_we_sign() -> None:
    headers = {"Content-Type": CONTENT_TYPE}
    headers |= sign_cavage("POST", URL, headers, BODY, key_id=KEY_ID, private_key=RSA_KEY)
    assert httpsig_verifies(headers, "POST", "/users/bob/inbox?page=1")
    assert not httpsig_verifies(headers, "POST", "/users/eve/inbox?page=1")
    assert not httpsig_verifies(headers | {"Digest": digest_header(b"{}")}, "POST", "/users/bob/inbox?page=1")


@pytest.mark.parametrize("sign_header", ["signature", "authorization"])
def test_we_verify_what_httpsig_signs(sign_header: str) -> None:
    covered = ["(request-target)", "host", "date", "digest", "content-type"]
    signer = HeaderSigner(KEY_ID, RSA_PEM, algorithm="rsa-sha256", headers=covered, sign_header=sign_header)
    headers = {
        "Host": "remote.example",
        "Date": format_datetime(datetime.now(UTC), usegmt=True),
        "Digest": digest_header(BODY),
        "Content-Type": CONTENT_TYPE,
    }
    signed = signer.sign(headers, method="POST", path="/users/bob/inbox")
    request = SignedRequest("POST", "/users/bob/inbox", Headers(dict(signed)), BODY)
    key = VerificationKey(RSA_KEY.public_key(), KEY_ID)
    verify(request, key)
    with pytest.raises(DigestMismatch):
        verify(with_body(request, BODY.replace(b"Follow", b"Block")), key)
    with pytest.raises(InvalidSignature):
        verify(with_target(request, "/users/eve/inbox"), key)


# --- RFC 9421 with http-message-signatures -----------------------------------------------------

THEIR_ALGORITHMS: dict[str, Any] = {
    "test-key-rsa": algorithms.RSA_V1_5_SHA256,
    "test-key-rsa-pss": algorithms.RSA_PSS_SHA512,
    "test-key-ecc-p256": algorithms.ECDSA_P256_SHA256,
    "test-key-ed25519": algorithms.ED25519,
}


def private(key_id: str) -> PrivateKey:
    return load_private_key_pem(KEYS[key_id]["private_pem"])


def resolver(key_id: str) -> MappingKeyResolver:
    key = private(key_id)
    return MappingKeyResolver(public_keys={key_id: key.public_key()}, private_keys={key_id: key})


def httpx_request(headers: dict[str, str], body: bytes = BODY, url: str = URL) -> httpx.Request:
    return httpx.Request("POST", url, headers=headers, content=body)


@pytest.mark.parametrize("key_id", sorted(THEIR_ALGORITHMS))
def test_http_message_signatures_verifies_what_we_sign(key_id: str) -> None:
    algorithm = "rsa-pss-sha512" if key_id == "test-key-rsa-pss" else None
    headers = {"Content-Type": CONTENT_TYPE}
    headers |= sign_rfc9421(
        "POST", URL, headers, BODY, key_id=key_id, private_key=private(key_id), algorithm=algorithm
    )
    verifier = HTTPMessageVerifier(
        signature_algorithm=THEIR_ALGORITHMS[key_id], key_resolver=resolver(key_id)
    )
    results = verifier.verify(httpx_request(headers), body=BODY)
    assert results[0].parameters["keyid"] == key_id
    with pytest.raises(TheirInvalidSignature):
        verifier.verify(httpx_request(headers, url=URL.replace("bob", "eve")), body=BODY)
    with pytest.raises(TheirInvalidSignature):
        verifier.verify(httpx_request(headers, body=b"{}"), body=b"{}")


@pytest.mark.parametrize("key_id", sorted(THEIR_ALGORITHMS))
def test_we_verify_what_http_message_signatures_signs(key_id: str) -> None:
    signer = HTTPMessageSigner(signature_algorithm=THEIR_ALGORITHMS[key_id], key_resolver=resolver(key_id))
    outgoing = httpx_request({"Content-Type": CONTENT_TYPE})
    signer.sign(
        outgoing,
        key_id=key_id,
        covered_component_ids=("@method", "@authority", "@target-uri", "content-type"),
        body=BODY,
    )
    request = SignedRequest.from_httpx(outgoing)
    parsed = parse_signature(request)
    assert (
        parsed.covered[-1] == "content-digest" and parsed.algorithm == THEIR_ALGORITHMS[key_id].algorithm_id
    )
    key = VerificationKey(private(key_id).public_key(), key_id)
    verify_signature(request, parsed, key)
    with pytest.raises(DigestMismatch):
        verify_signature(with_body(request, b"{}"), parsed, key)
    with pytest.raises(InvalidSignature):
        verify_signature(with_target(request, "/users/bob/inbox?page=2"), parsed, key)
