"""RFC 9421 message signatures: Appendix B vectors, components, signing, and tampered twins."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from node.activitypub.signatures import (
    Headers,
    InvalidSignature,
    KeyInput,
    MalformedSignature,
    PrivateKey,
    SharedSecret,
    SignedRequest,
    SignedResponse,
    VerificationKey,
    load_private_key_pem,
    load_public_key_pem,
    parse_signature,
    sign_rfc9421,
    verify_signature,
)
from node.activitypub.signatures.digest import DigestMismatch
from node.activitypub.signatures.message import Message
from node.activitypub.signatures.rfc9421 import signature_base
from tests.support.data import VECTORS


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


RFC9421 = load("rfc9421.json")
CASES = {case["id"]: case for case in RFC9421["test_cases"]}
RAW_KEYS = RFC9421["keys"]
VECTOR_NOW = datetime.fromtimestamp(1618884473, UTC)  # the created of every Appendix B signature
PSS = "rsa-pss-sha512"


def public(key_id: str) -> KeyInput:
    if key_id == "test-shared-secret":
        return SharedSecret(base64.b64decode(RAW_KEYS[key_id]["base64"]))
    key = load_public_key_pem(RAW_KEYS[key_id]["public_pem"])
    # B.1.2's key is published for RSA-PSS; the B.2.1-B.2.3 signatures carry no alg parameter.
    return VerificationKey(key, key_id, algorithm=PSS) if key_id == "test-key-rsa-pss" else key


def private(key_id: str) -> PrivateKey:
    return load_private_key_pem(RAW_KEYS[key_id]["private_pem"])


def other_key(key: KeyInput) -> KeyInput:
    """A key of the same type that did not sign."""
    if isinstance(key, SharedSecret):
        return SharedSecret(b"another secret")
    if isinstance(key, VerificationKey):
        return VerificationKey(
            load_public_key_pem(RAW_KEYS["test-key-rsa"]["public_pem"]), key.key_id, None, PSS
        )
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ec.generate_private_key(ec.SECP256R1()).public_key()
    return ed25519.Ed25519PrivateKey.generate().public_key()


def build(spec: dict[str, Any], headers: list[tuple[str, str]]) -> Message:
    body = spec["body"].encode() if spec.get("body") is not None else None
    if "status" in spec:
        return SignedResponse(spec["status"], Headers(headers), body)
    return SignedRequest(spec["method"], spec["target"], Headers(headers), body)


def vector_message(case_id: str) -> Message:
    case = CASES[case_id]
    name = {"B.3": "B.3 proxy request (signed)", "B.4": "B.4 original request"}.get(case_id, case["message"])
    spec = RFC9421["messages"][name]
    headers = [(k, v) for k, v in spec["headers"] if k not in ("Signature-Input", "Signature")]
    if case_id == "B.2.4":  # erratum 2: the base (and signature) use the body's real digest
        fixed = spec["content_digest_computed_from_body"]
        headers = [(k, fixed if k == "Content-Digest" else v) for k, v in headers]
    headers += [("Signature-Input", case["signature_input_field"]), ("Signature", case["signature_field"])]
    return build(spec, headers)


def changed(message: Message, *, drop: str | None = None, **updates: Any) -> Message:
    """A copy with some headers replaced (``headers``) or dropped, and other fields set."""
    headers = message.headers.replace(updates.pop("headers", {}))
    if drop is not None:
        headers = Headers([line for line in headers.lines() if line[0].lower() != drop.lower()])
    if isinstance(message, SignedResponse):
        return SignedResponse(
            updates.get("status", message.status), headers, updates.get("body", message.body)
        )
    return SignedRequest(
        updates.get("method", message.method),
        updates.get("target", message.target),
        headers,
        updates.get("body", message.body),
    )


def check(message: Message, key: KeyInput, **options: Any) -> None:
    options.setdefault("now", VECTOR_NOW)
    verify_signature(message, parse_signature(message), key, **options)


ALL = sorted(CASES)
FULL_POLICY = {"B.2.3", "B.2.4", "B.4"}  # the vectors that cover all our policy requires


@pytest.mark.parametrize("case_id", ALL)
def test_signature_base_is_rebuilt(case_id: str) -> None:
    message = vector_message(case_id)
    parsed = parse_signature(message)
    assert parsed.scheme == "rfc9421"
    assert (parsed.label, parsed.key_id, parsed.created) == (
        CASES[case_id]["label"],
        CASES[case_id]["keyid"],
        1618884473,
    )
    base = signature_base(message, parsed.components, parsed.params, scheme="https")
    assert base.decode() == CASES[case_id]["signature_base"]


@pytest.mark.parametrize("case_id", ALL)
def test_vector_verifies(case_id: str) -> None:
    message, key = vector_message(case_id), public(CASES[case_id]["keyid"])
    check(message, key, enforce_policy=False)
    with pytest.raises(InvalidSignature):
        check(message, other_key(key), enforce_policy=False)
    with pytest.raises(InvalidSignature, match="too old"):
        check(message, key, enforce_policy=False, now=None)
    with pytest.raises(InvalidSignature, match="future"):
        check(message, key, enforce_policy=False, now=VECTOR_NOW - timedelta(hours=2))


@pytest.mark.parametrize("case_id", ALL)
def test_policy(case_id: str) -> None:
    message, key = vector_message(case_id), public(CASES[case_id]["keyid"])
    if case_id in FULL_POLICY:
        check(message, key)
        return
    with pytest.raises(MalformedSignature, match="does not cover"):
        check(message, key)
    if case_id in ("B.2.6", "B.3"):  # everything but content-digest is there
        check(message, key, require_digest_for_body=False)


def test_b24_with_the_published_content_digest_is_refused() -> None:
    spec = RFC9421["messages"]["test-response"]
    case = CASES["B.2.4"]
    published = [(k, v) for k, v in spec["headers"]]
    published += [("Signature-Input", case["signature_input_field"]), ("Signature", case["signature_field"])]
    message = build(spec, published)
    with pytest.raises(DigestMismatch):
        check(message, public("test-key-ecc-p256"))
    with pytest.raises(InvalidSignature):
        check(message, public("test-key-ecc-p256"), require_digest_for_body=False, enforce_policy=False)


@pytest.mark.parametrize("variant", RFC9421["B.4_variants"], ids=lambda v: v["description"])
def test_b4_transformations(variant: dict[str, Any]) -> None:
    message = build(variant["message"], [(k, v) for k, v in variant["message"]["headers"]])
    if variant["signature_still_valid_per_document"]:
        check(message, public("test-key-ed25519"))
    else:
        with pytest.raises(InvalidSignature):
            check(message, public("test-key-ed25519"))


@pytest.mark.parametrize(
    ("updates", "error"),
    [
        ({"body": b'{"hello": "World"}'}, DigestMismatch),
        ({"headers": {"Content-Type": "text/plain"}}, InvalidSignature),
        ({"headers": {"Host": "example.org"}}, InvalidSignature),
        ({"headers": {"Date": "Tue, 20 Apr 2021 02:07:56 GMT"}}, InvalidSignature),
        ({"method": "PUT"}, InvalidSignature),
        ({"target": "/foo?param=Value&Pet=cat"}, InvalidSignature),
        ({"target": "/foo"}, InvalidSignature),
        ({"target": "/bar?param=Value&Pet=dog"}, InvalidSignature),
        ({"headers": {"Content-Length": "19"}}, InvalidSignature),
        (
            {"headers": {"Signature-Input": CASES["B.2.3"]["signature_input_field"] + ';nonce="x"'}},
            InvalidSignature,
        ),
        ({"drop": "Content-Type"}, MalformedSignature),
    ],
)
def test_tampered_b23(updates: dict[str, Any], error: type[Exception]) -> None:
    message = vector_message("B.2.3")
    check(message, public("test-key-rsa-pss"))
    with pytest.raises(error):
        check(changed(message, **updates), public("test-key-rsa-pss"))


REQUEST_SPEC = RFC9421["messages"]["test-request"]
REQUEST_HEADERS = [(k, v) for k, v in REQUEST_SPEC["headers"]]
REQUEST_URL = "https://example.com/foo?param=Value&Pet=dog"
BODY = REQUEST_SPEC["body"].encode()


@pytest.mark.parametrize("case_id", ["B.2.5", "B.2.6", "B.4"])
def test_deterministic_signatures_are_reproduced(case_id: str) -> None:
    case = CASES[case_id]
    message = vector_message(case_id)
    assert isinstance(message, SignedRequest)
    parsed = parse_signature(message)
    key: PrivateKey | SharedSecret = (
        SharedSecret(base64.b64decode(RAW_KEYS["test-shared-secret"]["base64"]))
        if case["keyid"] == "test-shared-secret"
        else private(case["keyid"])
    )
    host = message.headers["host"]
    added = sign_rfc9421(
        message.method,
        f"https://{host}{message.target}",
        [h for h in message.headers.lines() if h[0] not in ("Signature-Input", "Signature")],
        message.body or None,
        key_id=case["keyid"],
        private_key=key,
        covered=parsed.covered,
        label=case["label"],
        now=VECTOR_NOW,
        include_alg=False,
    )
    assert added["Signature-Input"] == case["signature_input_field"]
    assert added["Signature"] == case["signature_field"]


def test_pss_signing_matches_b22_input_and_verifies() -> None:
    added = sign_rfc9421(
        "POST",
        REQUEST_URL,
        REQUEST_HEADERS,
        BODY,
        key_id="test-key-rsa-pss",
        private_key=private("test-key-rsa-pss"),
        algorithm=PSS,
        covered=["@authority", "content-digest", '@query-param;name="Pet"'],
        label="sig-b22",
        now=VECTOR_NOW,
        tag="header-example",
        include_alg=False,
    )
    assert added["Signature-Input"] == CASES["B.2.2"]["signature_input_field"]
    message = SignedRequest(
        "POST", "/foo?param=Value&Pet=dog", Headers([*REQUEST_HEADERS, *added.items()]), BODY
    )
    check(message, public("test-key-rsa-pss"), enforce_policy=False)
    with pytest.raises(InvalidSignature):
        check(
            changed(message, target="/foo?param=Value&Pet=cat"),
            public("test-key-rsa-pss"),
            enforce_policy=False,
        )


@pytest.mark.parametrize(
    "key_id", ["test-key-rsa", "test-key-rsa-pss", "test-key-ecc-p256", "test-key-ed25519"]
)
def test_default_signature_meets_the_policy(key_id: str) -> None:
    algorithm = PSS if key_id == "test-key-rsa-pss" else None
    headers = [("Content-Type", "application/activity+json")]
    added = sign_rfc9421(
        "POST",
        "https://node.example/inbox",
        headers,
        BODY,
        key_id=key_id,
        private_key=private(key_id),
        algorithm=algorithm,
    )
    assert "Content-Digest" in added and "Host" in added
    message = SignedRequest("POST", "/inbox", Headers([*headers, *added.items()]), BODY)
    check(message, public(key_id), now=None)
    with pytest.raises(DigestMismatch):
        check(changed(message, body=BODY + b"\n"), public(key_id), now=None)
    with pytest.raises(InvalidSignature):
        check(changed(message, target="/inbox?x=1"), public(key_id), now=None)
    with pytest.raises(InvalidSignature):  # signed for https, received over http
        check(message, public(key_id), now=None, scheme="http")


@pytest.mark.parametrize(
    "covered",
    [
        ["@target-uri", "content-digest"],
        ["@method", "@path", "content-digest"],
        ["@method", "@authority", "content-digest"],
        ["@method", "@target-uri"],
    ],
)
def test_missing_required_components(covered: list[str]) -> None:
    key = private("test-key-ed25519")
    added = sign_rfc9421(
        "POST", "https://node.example/inbox", {}, BODY, key_id="k", private_key=key, covered=covered
    )
    message = SignedRequest("POST", "/inbox", Headers(added), BODY)
    with pytest.raises(MalformedSignature, match="does not cover"):
        check(message, key.public_key(), now=None)
    check(message, key.public_key(), now=None, enforce_policy=False)


def test_algorithm_and_key_must_agree() -> None:
    rsa_key = load_public_key_pem(RAW_KEYS["test-key-rsa"]["public_pem"])
    added = sign_rfc9421(
        "GET", "https://node.example/actor", {}, None, key_id="k", private_key=private("test-key-rsa")
    )
    assert ';alg="rsa-v1_5-sha256"' in added["Signature-Input"]
    message = SignedRequest("GET", "/actor", Headers(added), None)
    check(message, rsa_key, now=None)
    check(message, VerificationKey(rsa_key, "k", algorithm="rsa-v1_5-sha256"), now=None)
    with pytest.raises(InvalidSignature, match="the key is for"):
        check(message, VerificationKey(rsa_key, "k", algorithm=PSS), now=None)
    with pytest.raises(InvalidSignature, match="cannot verify"):
        check(message, ed25519.Ed25519PrivateKey.generate().public_key(), now=None)
    with pytest.raises(InvalidSignature):
        check(message, SharedSecret(b"k"), now=None)
    # Without alg, an RSA key with nothing declared means PKCS#1 v1.5: a PSS signature fails.
    pss = sign_rfc9421(
        "GET",
        "https://node.example/actor",
        {},
        None,
        key_id="k",
        private_key=private("test-key-rsa"),
        algorithm=PSS,
        include_alg=False,
    )
    with pytest.raises(InvalidSignature):
        check(SignedRequest("GET", "/actor", Headers(pss), None), rsa_key, now=None)
    check(
        SignedRequest("GET", "/actor", Headers(pss), None),
        VerificationKey(rsa_key, "k", algorithm=PSS),
        now=None,
    )
    # An HMAC signature is never checked with a public key taken as the secret.
    hmac_signed = sign_rfc9421(
        "GET", "https://node.example/actor", {}, None, key_id="k", private_key=SharedSecret(b"s")
    )
    with pytest.raises(InvalidSignature):
        check(SignedRequest("GET", "/actor", Headers(hmac_signed), None), rsa_key, now=None)


def test_created_and_expires() -> None:
    key = private("test-key-ed25519")
    expires = VECTOR_NOW + timedelta(minutes=5)
    added = sign_rfc9421(
        "GET",
        "https://node.example/a",
        {},
        None,
        key_id="k",
        private_key=key,
        now=VECTOR_NOW,
        expires=expires,
    )
    message = SignedRequest("GET", "/a", Headers(added), None)
    check(message, key.public_key())
    with pytest.raises(InvalidSignature, match="expired"):
        check(message, key.public_key(), now=VECTOR_NOW + timedelta(minutes=6))
    no_created = Headers(added).replace(
        {"Signature-Input": added["Signature-Input"].replace("created=1618884473;", "")}
    )
    with pytest.raises(MalformedSignature, match="created"):
        check(SignedRequest("GET", "/a", no_created, None), key.public_key())


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        ('sig1=("@method");created=1', "sig2=:AAAA:"),
        ('sig1=("@method");created=1', "sig1=AAAA"),
        ('sig1="@method";keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@method");created=1', "sig1=:AAAA:"),
        ('sig1=("@method");keyid="k";alg="rsa-sha256"', "sig1=:AAAA:"),
        ('sig1=("@method");keyid="k";created="1"', "sig1=:AAAA:"),
        ('sig1=("@method");keyid=k', "sig1=:AAAA:"),
        ('sig1=("@method" "@method");keyid="k"', "sig1=:AAAA:"),
        ('sig1=("Date");keyid="k"', "sig1=:AAAA:"),
        ('sig1=(@method);keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@fragment");keyid="k"', "sig1=:AAAA:"),
        ('sig1=("date";tr);keyid="k"', "sig1=:AAAA:"),
        ('sig1=("date";bs;sf);keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@query-param");keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@method";name="x");keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@method");keyid="k", sig1=("@path");keyid="k"', "sig1=:AAAA:"),
        ('sig1=("@method";keyid="k"', "sig1=:AAAA:"),
        ("", "sig1=:AAAA:"),
    ],
)
def test_unparseable_signatures(signature_input: str, signature: str) -> None:
    message = SignedRequest("GET", "/", Headers({"Signature-Input": signature_input, "Signature": signature}))
    with pytest.raises(MalformedSignature):
        parse_signature(message)


def test_label_selection() -> None:
    key = private("test-key-ed25519")
    first = sign_rfc9421("GET", "https://node.example/a", {}, None, key_id="k1", private_key=key, label="one")
    second = sign_rfc9421(
        "GET", "https://node.example/a", {}, None, key_id="k2", private_key=key, label="two"
    )
    headers = Headers(
        [
            ("Host", "node.example"),
            ("Signature-Input", f"{first['Signature-Input']}, {second['Signature-Input']}"),
            ("Signature", f"{first['Signature']}, {second['Signature']}"),
        ]
    )
    message = SignedRequest("GET", "/a", headers, None)
    assert parse_signature(message).key_id == "k1"
    parsed = parse_signature(message, label="two")
    assert (parsed.key_id, parsed.label) == ("k2", "two")
    verify_signature(message, parsed, key.public_key())
    with pytest.raises(MalformedSignature):
        parse_signature(message, label="three")
