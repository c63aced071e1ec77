"""The signatures facade: dispatch, errors, keys, headers, and signing outgoing httpx requests."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519

from node.activitypub.signatures import (
    DigestMismatch,
    Headers,
    HttpSignatureAuth,
    InvalidSignature,
    MalformedDigest,
    MalformedSignature,
    SignatureError,
    SignedRequest,
    UnusableKey,
    VerificationKey,
    http_status,
    load_private_key_pem,
    load_public_key_pem,
    parse_signature,
    public_pem,
    sign_cavage,
    sign_rfc9421,
    verify_signature,
)
from tests.support.data import VECTORS

KEYS: dict[str, Any] = json.loads((VECTORS / "rfc9421.json").read_text(encoding="utf-8"))["keys"]
ACTOR = "https://node.example/users/alice"
KEY_ID = f"{ACTOR}#main-key"
PRIVATE = load_private_key_pem(KEYS["test-key-rsa"]["private_pem"])
PUBLIC = load_public_key_pem(KEYS["test-key-rsa"]["public_pem"])
OTHER = load_public_key_pem(KEYS["test-key-rsa-pss"]["public_pem"])
BODY = b'{"type": "Create", "actor": "https://node.example/users/alice"}'


def test_error_tree_and_statuses() -> None:
    expected = {
        MalformedSignature: 400,
        MalformedDigest: 400,
        InvalidSignature: 401,
        DigestMismatch: 401,
        UnusableKey: 401,
    }
    for cls, status in expected.items():
        error = cls("x")
        assert isinstance(error, SignatureError)
        assert http_status(error) == status == error.status_code


def test_parse_dispatches_on_the_headers() -> None:
    cavage = sign_cavage("GET", "https://a.example/x", {}, None, key_id=KEY_ID, private_key=PRIVATE)
    rfc = sign_rfc9421("GET", "https://a.example/x", {}, None, key_id=KEY_ID, private_key=PRIVATE)
    assert parse_signature(SignedRequest("GET", "/x", Headers(cavage))).scheme == "cavage"
    assert parse_signature(SignedRequest("GET", "/x", Headers(rfc))).scheme == "rfc9421"
    authorization = {"Host": "a.example", "Authorization": "Signature " + cavage["Signature"]}
    assert parse_signature(SignedRequest("GET", "/x", Headers(authorization))).key_id == KEY_ID
    with pytest.raises(MalformedSignature):
        parse_signature(SignedRequest("GET", "/x", Headers({"Host": "a.example"})))


def capture(client_call: Any) -> httpx.Request:
    """Run ``client_call(client)`` with a client that signs, and return what it really sent."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(202)

    auth = HttpSignatureAuth(key_id=KEY_ID, private_key=PRIVATE)
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client_call(client).status_code == 202
    return sent[0]


def test_http_signature_auth_signs_a_post() -> None:
    sent = capture(
        lambda client: client.post(
            "https://remote.example/inbox",
            content=BODY,
            headers={"Content-Type": "application/activity+json"},
        )
    )
    request = SignedRequest.from_httpx(sent)
    parsed = parse_signature(request)
    assert parsed.covered == ("(request-target)", "host", "date", "digest", "content-type")
    assert (parsed.algorithm, parsed.key_id) == ("rsa-sha256", KEY_ID)
    key = VerificationKey(PUBLIC, KEY_ID, owner=ACTOR)
    verify_signature(request, parsed, key)
    with pytest.raises(DigestMismatch):
        verify_signature(SignedRequest("POST", "/inbox", request.headers, BODY + b" "), parsed, key)
    with pytest.raises(InvalidSignature):
        verify_signature(request, parsed, VerificationKey(OTHER, KEY_ID))
    with pytest.raises(InvalidSignature):
        verify_signature(SignedRequest("POST", "/outbox", request.headers, BODY), parsed, key)


def test_http_signature_auth_signs_a_get() -> None:
    sent = capture(
        lambda client: client.get(
            "https://remote.example:8443/users/bob?x=1", headers={"Accept": "application/activity+json"}
        )
    )
    request = SignedRequest.from_httpx(sent)
    assert request.target == "/users/bob?x=1" and request.headers["host"] == "remote.example:8443"
    parsed = parse_signature(request)
    assert parsed.covered == ("(request-target)", "host", "date", "accept")
    verify_signature(request, parsed, PUBLIC)
    accept_changed = request.headers.replace({"Accept": "text/html"})
    with pytest.raises(InvalidSignature):
        verify_signature(SignedRequest("GET", request.target, accept_changed, None), parsed, PUBLIC)


def test_http_signature_auth_with_an_async_client() -> None:
    sent: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        sent.append(request)
        return httpx.Response(202)

    async def send() -> None:
        auth = HttpSignatureAuth(key_id=KEY_ID, private_key=PRIVATE)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
            await client.post("https://remote.example/inbox", content=BODY)

    asyncio.run(send())
    request = SignedRequest.from_httpx(sent[0])
    verify_signature(request, parse_signature(request), PUBLIC)
    with pytest.raises(DigestMismatch):
        verify_signature(
            SignedRequest("POST", "/inbox", request.headers, b"{}"), parse_signature(request), PUBLIC
        )


def test_keys() -> None:
    assert isinstance(load_public_key_pem(public_pem(PRIVATE)), type(PUBLIC))
    assert public_pem(PUBLIC) == public_pem(PRIVATE)
    pkcs1 = PUBLIC.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    assert public_pem(load_public_key_pem(pkcs1)) == public_pem(PUBLIC)
    with pytest.raises(UnusableKey):
        load_public_key_pem("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    x25519_pem = (
        x25519.X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(UnusableKey):
        load_public_key_pem(x25519_pem)


def test_a_key_of_an_unsupported_curve_is_unusable() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    added = sign_cavage(
        "GET", "https://a.example/x", {}, None, key_id="k", private_key=PRIVATE, algorithm="hs2019"
    )
    request = SignedRequest("GET", "/x", Headers(added))
    with pytest.raises(UnusableKey):
        verify_signature(request, parse_signature(request), p384.public_key())


def test_headers() -> None:
    headers = Headers([("Accept", "a"), ("X-Thing", "  one "), ("accept", "b "), ("Host", "h")])
    assert headers["ACCEPT"] == "a, b" and headers["x-thing"] == "one"
    assert headers.get_all("accept") == ["a", "b "]
    assert list(headers) == ["accept", "x-thing", "host"] and len(headers) == 3
    assert "Host" in headers and "date" not in headers and headers.get("date") is None
    replaced = headers.replace({"ACCEPT": "c"})
    assert replaced["accept"] == "c" and replaced["host"] == "h"
    raw = Headers.from_raw([(b"host", b"h\xe9.example")])
    assert raw["host"] == "h\u00e9.example"


def test_request_parts() -> None:
    request = SignedRequest("GET", "/a/b?c=d?e", Headers())
    assert (request.path, request.query) == ("/a/b", "c=d?e")
    assert (SignedRequest("GET", "/a", Headers()).query, SignedRequest("GET", "?x", Headers()).path) == (
        None,
        "/",
    )


def test_now_must_be_aware() -> None:
    added = sign_cavage("GET", "https://a.example/x", {}, None, key_id="k", private_key=PRIVATE)
    request = SignedRequest("GET", "/x", Headers(added))
    with pytest.raises(ValueError):
        verify_signature(request, parse_signature(request), PUBLIC, now=datetime(2024, 1, 1))
