"""draft-cavage-12 signatures: Appendix C vectors, Mastodon-style signing, and tampered twins."""

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
    VerificationKey,
    load_private_key_pem,
    load_public_key_pem,
    parse_signature,
    sign_cavage,
    verify_signature,
)
from node.activitypub.signatures.cavage import signing_string
from node.activitypub.signatures.digest import DigestMismatch, digest_header
from node.activitypub.signatures.keys import RSA_V1_5_SHA256, algorithm_for_key, ecdsa_der_from_raw, sign_with
from tests.support.data import VECTORS


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


CAVAGE = load("cavage-12.json")
RFC9421_KEYS = load("rfc9421.json")["keys"]
CASES = {case["id"]: case for case in CAVAGE["test_cases"]}
PUBLIC = load_public_key_pem(CAVAGE["keys"]["Test"]["public_pem"])
PRIVATE = load_private_key_pem(CAVAGE["keys"]["Test"]["private_pem"])
OTHER_RSA = load_public_key_pem(RFC9421_KEYS["test-key-rsa"]["public_pem"])
ED25519_PRIVATE = load_private_key_pem(RFC9421_KEYS["test-key-ed25519"]["private_pem"])
P256_PRIVATE = load_private_key_pem(RFC9421_KEYS["test-key-ecc-p256"]["private_pem"])
VECTOR_NOW = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)  # the Date of the Appendix C request
REQUEST = CAVAGE["request"]
BODY: bytes = REQUEST["body"].encode()
# Erratum 1(c): C.3 lists (created) and (expires), but signs only the six real headers.
C3_REAL_HEADERS = "(request-target) host date content-type digest content-length"


def header_value(case_id: str, headers_param: str | None) -> str:
    params = f'headers="{headers_param}",' if headers_param else ""
    return f'keyId="Test",algorithm="rsa-sha256",{params}signature="{CASES[case_id]["signature_b64"]}"'


def vector_request(
    signature: tuple[str, str],
    *,
    target: str = REQUEST["target"],
    method: str = "POST",
    body: bytes | None = BODY,
    replace: dict[str, str] | None = None,
) -> SignedRequest:
    headers = Headers([*map(tuple, REQUEST["headers"]), signature]).replace(replace or {})
    return SignedRequest(method, target, headers, body)


def c3_request(**changes: Any) -> SignedRequest:
    return vector_request(("Signature", header_value("C.3", C3_REAL_HEADERS)), **changes)


def check(request: SignedRequest, key: KeyInput = PUBLIC, **options: Any) -> None:
    options.setdefault("now", VECTOR_NOW)
    verify_signature(request, parse_signature(request), key, **options)


@pytest.mark.parametrize("carrier", ["Signature", "Authorization"])
@pytest.mark.parametrize("case_id", ["C.1", "C.2", "C.3"])
def test_appendix_c_vectors_verify(case_id: str, carrier: str) -> None:
    headers_param = C3_REAL_HEADERS if case_id == "C.3" else CASES[case_id]["headers_param"]
    value = header_value(case_id, headers_param)
    request = vector_request((carrier, value if carrier == "Signature" else f"Signature {value}"))
    parsed = parse_signature(request)
    assert (parsed.scheme, parsed.key_id, parsed.algorithm) == ("cavage", "Test", "rsa-sha256")
    assert parsed.covered == tuple((headers_param or "date").split())
    assert signing_string(request, parsed.covered) == CASES[case_id]["signing_string"].encode()
    verify_signature(request, parsed, PUBLIC, now=VECTOR_NOW, enforce_policy=False)
    # Twins: the same signature checked against the wrong key, or today (its Date is from 2014).
    with pytest.raises(InvalidSignature):
        verify_signature(request, parsed, OTHER_RSA, now=VECTOR_NOW, enforce_policy=False)
    with pytest.raises(InvalidSignature, match="too old"):
        verify_signature(request, parsed, PUBLIC, enforce_policy=False)


@pytest.mark.parametrize("case_id", ["C.1", "C.2", "C.3"])
def test_resigning_reproduces_the_vector(case_id: str) -> None:
    raw = sign_with(RSA_V1_5_SHA256, PRIVATE, CASES[case_id]["signing_string"].encode())
    assert base64.b64encode(raw).decode() == CASES[case_id]["signature_b64"]


def test_policy_refuses_the_thin_vectors() -> None:
    c1 = vector_request(("Signature", header_value("C.1", None)))
    with pytest.raises(MalformedSignature, match=r"\(request-target\), host, digest"):
        check(c1)
    c2 = vector_request(("Signature", header_value("C.2", CASES["C.2"]["headers_param"])))
    with pytest.raises(MalformedSignature, match="digest"):
        check(c2)
    check(c2, require_digest_for_body=False)
    check(c3_request())  # C.3 covers everything the policy asks for


def test_c3_as_printed_is_refused() -> None:
    printed = (
        'keyId="Test",algorithm="rsa-sha256", created=1402170695, expires=1402170699, '
        f'headers="{CASES["C.3"]["headers_param"]}", signature="{CASES["C.3"]["signature_b64"]}"'
    )
    with pytest.raises(MalformedSignature, match="rsa-sha256"):
        parse_signature(vector_request(("Signature", printed)))
    # Nor does the signature verify over the eight lines its headers parameter implies.
    as_hs2019 = printed.replace("rsa-sha256", "hs2019")
    request = vector_request(("Signature", as_hs2019))
    parsed = parse_signature(request)
    assert parsed.covered[1:3] == ("(created)", "(expires)")
    with pytest.raises(InvalidSignature, match="does not verify"):
        verify_signature(request, parsed, PUBLIC, now=VECTOR_NOW, max_skew=timedelta(days=400))


def test_vectors_are_stale_today() -> None:
    with pytest.raises(InvalidSignature, match="too old"):
        check(c3_request(), now=None)
    with pytest.raises(InvalidSignature, match="future"):
        check(c3_request(), now=VECTOR_NOW - timedelta(hours=1, seconds=1))
    check(c3_request(), now=VECTOR_NOW + timedelta(minutes=59))
    with pytest.raises(InvalidSignature, match="too old"):
        check(c3_request(), now=VECTOR_NOW + timedelta(minutes=1), max_skew=timedelta(seconds=30))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"body": BODY.replace(b"world", b"World")}, DigestMismatch),
        (
            {"body": b"{}", "replace": {"Digest": digest_header(b"{}"), "Content-Length": "2"}},
            InvalidSignature,
        ),
        ({"replace": {"Host": "example.org"}}, InvalidSignature),
        ({"replace": {"Content-Type": "text/plain"}}, InvalidSignature),
        ({"method": "PUT"}, InvalidSignature),
        ({"target": "/bar?param=value&pet=dog"}, InvalidSignature),
        ({"target": "/foo?param=value&pet=cat"}, InvalidSignature),
        ({"target": "/foo"}, InvalidSignature),
        ({"replace": {"Date": "Sun, 05 Jan 2014 21:31:41 GMT"}}, InvalidSignature),
        ({"replace": {"Date": "yesterday"}}, MalformedSignature),
    ],
)
def test_tampered_c3(changes: dict[str, Any], error: type[Exception]) -> None:
    check(c3_request())
    with pytest.raises(error):
        check(c3_request(**changes))


def test_wrong_keys() -> None:
    with pytest.raises(InvalidSignature):
        check(c3_request(), OTHER_RSA)
    with pytest.raises(InvalidSignature, match="cannot verify"):
        check(c3_request(), ED25519_PRIVATE.public_key())
    with pytest.raises(InvalidSignature):
        check(c3_request(), SharedSecret(b"secret"))
    check(c3_request(), VerificationKey(PUBLIC, "Test", owner="https://example.com/actor"))
    with pytest.raises(InvalidSignature, match="key given"):
        check(c3_request(), VerificationKey(PUBLIC, "https://example.com/actor#main-key"))


@pytest.mark.parametrize(
    "value",
    [
        'algorithm="rsa-sha256",headers="date",signature="AAAA"',
        'keyId="Test",algorithm="rsa-sha256",headers="date"',
        'keyId="Test",algorithm="hmac-sha256",headers="date",signature="AAAA"',
        'keyId="Test",algorithm="rsa-sha256",headers="date",signature="not base64!"',
        'keyId="Test",keyId="Other",headers="date",signature="AAAA"',
        'keyId="Test",headers="",signature="AAAA"',
        'keyId="Test",headers="date date",signature="AAAA"',
        'keyId="Test",headers="date",signature="AAAA",',
        'keyId=Test,signature="AAAA"',
        'keyId="Test",algorithm="hs2019",headers="(created) date",signature="AAAA"',
    ],
)
def test_unparseable_signatures(value: str) -> None:
    with pytest.raises(MalformedSignature):
        parse_signature(vector_request(("Signature", value)))


def test_no_signature_at_all() -> None:
    unsigned = SignedRequest("POST", "/inbox", Headers(REQUEST["headers"]), BODY)
    with pytest.raises(MalformedSignature):
        parse_signature(unsigned)
    with pytest.raises(MalformedSignature):
        parse_signature(vector_request(("Authorization", "Bearer abc")))


def test_covered_header_missing() -> None:
    request = c3_request()
    trimmed = SignedRequest(
        request.method,
        request.target,
        Headers([h for h in request.headers.lines() if h[0] != "Content-Type"]),
        request.body,
    )
    with pytest.raises(MalformedSignature, match="content-type"):
        check(trimmed)


def test_sign_like_mastodon_post() -> None:
    added = sign_cavage(
        "POST",
        "https://example.com/foo?param=value&pet=dog",
        {"Content-Type": "application/json"},
        BODY,
        key_id="https://example.com/users/alice#main-key",
        private_key=PRIVATE,
        now=VECTOR_NOW,
    )
    assert added["Host"] == "example.com"
    assert added["Date"] == "Sun, 05 Jan 2014 21:31:40 GMT"
    assert added["Digest"] == dict(REQUEST["headers"])["Digest"]
    assert added["Signature"].startswith(
        'keyId="https://example.com/users/alice#main-key",algorithm="rsa-sha256",'
        'headers="(request-target) host date digest content-type",signature="'
    )
    request = SignedRequest(
        "POST", "/foo?param=value&pet=dog", Headers({"Content-Type": "application/json", **added}), BODY
    )
    parsed = parse_signature(request)
    expected = "\n".join(
        CASES["C.3"]["signing_string"].split("\n")[:3]
        + [f"digest: {added['Digest']}", "content-type: application/json"]
    )
    assert signing_string(request, parsed.covered) == expected.encode()
    key = VerificationKey(PUBLIC, "https://example.com/users/alice#main-key")
    verify_signature(request, parsed, key, now=VECTOR_NOW)
    tampered = SignedRequest(request.method, request.target, request.headers, BODY + b" ")
    with pytest.raises(DigestMismatch):
        verify_signature(tampered, parsed, key, now=VECTOR_NOW)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Accept": "application/activity+json"}, "(request-target) host date accept"),
        ({}, "(request-target) host date"),
    ],
)
def test_sign_like_mastodon_get(headers: dict[str, str], expected: str) -> None:
    added = sign_cavage(
        "GET", "https://remote.example:8443/users/bob", headers, None, key_id="k", private_key=PRIVATE
    )
    assert added["Host"] == "remote.example:8443" and "Digest" not in added
    assert f'headers="{expected}"' in added["Signature"]
    request = SignedRequest("GET", "/users/bob", Headers({**headers, **added}), None)
    check(request, now=None)
    with pytest.raises(InvalidSignature):
        check(SignedRequest("GET", "/users/eve", request.headers, None), now=None)
    default_port = sign_cavage(
        "GET", "https://Remote.Example:443/x", {}, None, key_id="k", private_key=PRIVATE
    )
    assert default_port["Host"] == "remote.example"


def sign_manually(
    request: SignedRequest, covered: str, key: PrivateKey, algorithm: str, **params: int
) -> SignedRequest:
    """Sign with any covered list and parameters, as other servers may."""
    numbers = "".join(f"{name}={value}," for name, value in params.items())
    data = signing_string(
        request, covered.split(), created=params.get("created"), expires=params.get("expires")
    )
    chosen = RSA_V1_5_SHA256 if algorithm == "rsa-sha256" else algorithm_for_key(key)
    raw = sign_with(chosen, key, data)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        raw = ecdsa_der_from_raw(raw)
    value = (
        f'keyId="k",algorithm="{algorithm}",{numbers}headers="{covered}",'
        f'signature="{base64.b64encode(raw).decode()}"'
    )
    return SignedRequest(
        request.method, request.target, request.headers.replace({"Signature": value}), request.body
    )


def inbox_request(target: str = "/inbox") -> SignedRequest:
    headers = {
        "Host": "node.example",
        "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
        "Digest": digest_header(BODY),
        "Content-Type": "application/activity+json",
    }
    return SignedRequest("POST", target, Headers(headers), BODY)


@pytest.mark.parametrize("key", [PRIVATE, ED25519_PRIVATE, P256_PRIVATE], ids=["rsa", "ed25519", "p256"])
def test_hs2019_follows_the_key_type(key: PrivateKey) -> None:
    signed = sign_manually(inbox_request(), "(request-target) host date digest", key, "hs2019")
    check(signed, key.public_key())
    for wrong in (OTHER_RSA, ed25519.Ed25519PrivateKey.generate().public_key()):
        with pytest.raises(InvalidSignature):
            check(signed, wrong)
    with pytest.raises(DigestMismatch):
        check(SignedRequest("POST", "/inbox", signed.headers, BODY + b"!"), key.public_key())


def test_hs2019_created_instead_of_date() -> None:
    created = int(VECTOR_NOW.timestamp())
    covered = "(request-target) (created) (expires) host digest"
    signed = sign_manually(
        inbox_request(), covered, ED25519_PRIVATE, "hs2019", created=created, expires=created + 60
    )
    public = ED25519_PRIVATE.public_key()
    check(signed, public)
    with pytest.raises(InvalidSignature, match="expired"):
        check(signed, public, now=VECTOR_NOW + timedelta(minutes=2))
    stale = sign_manually(
        inbox_request(),
        "(request-target) (created) host digest",
        ED25519_PRIVATE,
        "hs2019",
        created=created - 7200,
    )
    with pytest.raises(InvalidSignature, match="too old"):
        check(stale, public)
    # rsa-sha256 cannot use (created): the policy still wants date.
    no_date = sign_manually(inbox_request(), "(request-target) host digest", PRIVATE, "rsa-sha256")
    with pytest.raises(MalformedSignature, match="date"):
        check(no_date)


def test_request_target_without_query_is_accepted() -> None:
    # Signed over "post /inbox" (as Misskey and bovine do) but received with a query.
    signed = sign_manually(inbox_request(), "(request-target) host date digest", PRIVATE, "rsa-sha256")
    received = SignedRequest("POST", "/inbox?page=1", signed.headers, BODY)
    check(received)
    for target in ("/outbox?page=1", "/inbox/x?page=1", "/outbox"):
        with pytest.raises(InvalidSignature):
            check(SignedRequest("POST", target, signed.headers, BODY))
    # Signed with the query: a different query is refused.
    with_query = sign_manually(
        inbox_request("/inbox?page=1"), "(request-target) host date digest", PRIVATE, "rsa-sha256"
    )
    check(with_query)
    with pytest.raises(InvalidSignature):
        check(SignedRequest("POST", "/inbox?page=2", with_query.headers, BODY))


def test_missing_required_components_with_body() -> None:
    for covered in ("host date digest", "(request-target) date digest", "(request-target) host date"):
        signed = sign_manually(inbox_request(), covered, PRIVATE, "rsa-sha256")
        with pytest.raises(MalformedSignature, match="does not cover"):
            check(signed)
