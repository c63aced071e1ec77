"""RFC 9421 covered components: derived components, field parameters, and response signatures."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from node.activitypub.signatures import (
    Headers,
    InvalidSignature,
    KeyInput,
    MalformedSignature,
    SignedRequest,
    SignedResponse,
    load_private_key_pem,
    parse_signature,
    verify_signature,
)
from node.activitypub.signatures.digest import DigestMismatch, content_digest_header
from node.activitypub.signatures.keys import sign_with
from node.activitypub.signatures.message import Message
from node.activitypub.signatures.rfc9421 import signature_base
from node.activitypub.signatures.sf import InnerList, Item, parse_dictionary, serialize_member
from tests.support.data import VECTORS

KEYS: dict[str, Any] = json.loads((VECTORS / "rfc9421.json").read_text(encoding="utf-8"))["keys"]
ED25519_KEY = load_private_key_pem(KEYS["test-key-ed25519"]["private_pem"])
BODY = b'{"hello": "world"}'
CREATED = 1618884473


def check(message: Message, key: KeyInput) -> None:
    verify_signature(message, parse_signature(message), key, now=datetime.fromtimestamp(CREATED, UTC))


def first_line(message: Message, identifier: str) -> str:
    component = parse_dictionary(f"x=({identifier})")["x"]
    assert isinstance(component, InnerList)
    return signature_base(message, component.items, {}, scheme="https").decode().split("\n")[0]


def request(target: str, *headers: tuple[str, str]) -> SignedRequest:
    return SignedRequest("POST", target, Headers([("Host", "www.example.com"), *headers]), None)


def test_derived_components() -> None:
    # The examples of RFC 9421 section 2.2.
    message = request("/path?param=value")
    assert first_line(message, '"@method"') == '"@method": POST'
    assert first_line(message, '"@target-uri"') == '"@target-uri": https://www.example.com/path?param=value'
    assert first_line(message, '"@authority"') == '"@authority": www.example.com'
    assert first_line(message, '"@scheme"') == '"@scheme": https'
    assert first_line(message, '"@request-target"') == '"@request-target": /path?param=value'
    assert first_line(message, '"@path"') == '"@path": /path'
    assert first_line(request("/path?param=value&foo=bar&baz=bat%2Dman"), '"@query"') == (
        '"@query": ?param=value&foo=bar&baz=bat%2Dman'
    )
    assert first_line(request("/path?"), '"@query"') == '"@query": ?'
    assert first_line(request("/path"), '"@query"') == '"@query": ?'
    assert first_line(
        SignedRequest("GET", "/", Headers({"Host": "Www.Example.com:443"})), '"@authority"'
    ) == ('"@authority": www.example.com')
    queried = request("/path?param=value&foo=bar&baz=batman&qux=")
    assert first_line(queried, '"@query-param";name="baz"') == '"@query-param";name="baz": batman'
    assert first_line(queried, '"@query-param";name="qux"') == '"@query-param";name="qux": '
    encoded = request(
        "/parameters?var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something"
    )
    assert (
        first_line(encoded, '"@query-param";name="var"')
        == '"@query-param";name="var": this%20is%20a%20big%0Avalue'
    )
    assert (
        first_line(encoded, '"@query-param";name="bar"')
        == '"@query-param";name="bar": with%20plus%20whitespace'
    )
    assert first_line(encoded, '"@query-param";name="fa%C3%A7ade%22%3A%20"') == (
        '"@query-param";name="fa%C3%A7ade%22%3A%20": something'
    )
    for bad in ('"@query-param";name="missing"', '"@status"'):
        with pytest.raises(MalformedSignature):
            first_line(queried, bad)
    with pytest.raises(MalformedSignature, match="not one"):
        first_line(request("/p?a=1&a=2"), '"@query-param";name="a"')
    with pytest.raises(MalformedSignature, match="Host"):
        first_line(SignedRequest("GET", "/", Headers()), '"@authority"')


def test_field_components() -> None:
    # The examples of RFC 9421 sections 2.1, 2.1.1, 2.1.2 and 2.1.3.
    message = request(
        "/",
        ("X-OWS-Header", "   Leading and trailing whitespace.   "),
        ("Cache-Control", "max-age=60"),
        ("Cache-Control", "   must-revalidate"),
        ("X-Empty-Header", ""),
        ("Example-Dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c), d"),
        ("Example-Header", "value, with, lots"),
        ("Example-Header", "of, commas"),
        ("Content-Digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,   sha-512=:AAAA:"),
    )
    assert first_line(message, '"x-ows-header"') == '"x-ows-header": Leading and trailing whitespace.'
    assert first_line(message, '"cache-control"') == '"cache-control": max-age=60, must-revalidate'
    assert first_line(message, '"x-empty-header"') == '"x-empty-header": '
    assert first_line(message, '"example-dict";key="a"') == '"example-dict";key="a": 1'
    assert first_line(message, '"example-dict";key="b"') == '"example-dict";key="b": 2;x=1;y=2'
    assert first_line(message, '"example-dict";key="c"') == '"example-dict";key="c": (a b c)'
    assert first_line(message, '"example-dict";key="d"') == '"example-dict";key="d": ?1'
    assert first_line(message, '"example-header";bs') == (
        '"example-header";bs: :dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:'
    )
    assert first_line(message, '"content-digest";sf') == (
        '"content-digest";sf: sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:AAAA:'
    )
    for bad in ('"example-dict";key="e"', '"example-dict";sf', '"x-missing"', '"x-ows-header";key="a"'):
        with pytest.raises(MalformedSignature):
            first_line(message, bad)


def test_response_with_request_components() -> None:
    key = ED25519_KEY
    original = SignedRequest("POST", "/inbox", Headers({"Host": "node.example"}), BODY)
    response_body = b'{"ok": true}'
    headers = {"Content-Digest": content_digest_header(response_body), "Content-Type": "application/json"}
    message = SignedResponse(200, Headers(headers), response_body, original)
    components = [
        Item("@status"),
        Item("content-digest"),
        Item("@method", {"req": True}),
        Item("@target-uri", {"req": True}),
    ]
    params: dict[str, Any] = {"created": CREATED, "keyid": "k"}
    base = signature_base(message, components, params, scheme="https")
    assert base.decode().split("\n")[2:4] == [
        '"@method";req: POST',
        '"@target-uri";req: https://node.example/inbox',
    ]
    signature = base64.b64encode(sign_with("ed25519", key, base)).decode()
    signed_headers = Headers(headers).replace(
        {
            "Signature-Input": "r=" + serialize_member(InnerList(components, params)),
            "Signature": f"r=:{signature}:",
        }
    )
    signed = SignedResponse(200, signed_headers, response_body, original)
    check(signed, key.public_key())
    other = SignedRequest("POST", "/outbox", original.headers, BODY)
    with pytest.raises(InvalidSignature):
        check(SignedResponse(200, signed_headers, response_body, other), key.public_key())
    with pytest.raises(MalformedSignature, match="req"):
        check(SignedResponse(200, signed_headers, response_body, None), key.public_key())
    with pytest.raises(DigestMismatch):
        check(SignedResponse(200, signed_headers, b"{}", original), key.public_key())
