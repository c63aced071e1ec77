"""Keys and signature algorithms for HTTP signatures.

Algorithms are named as in the RFC 9421 registry (``rsa-v1_5-sha256``, ``rsa-pss-sha512``,
``ecdsa-p256-sha256``, ``ed25519``, ``hmac-sha256``); draft-cavage names are mapped onto them by
the cavage module. The algorithm decides how a key is used and a key is never used with an
algorithm of another family, so a public key can never be taken for an HMAC secret.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from node.activitypub.signatures.errors import InvalidSignature, MalformedSignature, UnusableKey

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

RSA_V1_5_SHA256 = "rsa-v1_5-sha256"
RSA_PSS_SHA512 = "rsa-pss-sha512"
ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
ED25519 = "ed25519"
HMAC_SHA256 = "hmac-sha256"
ALGORITHMS = frozenset({RSA_V1_5_SHA256, RSA_PSS_SHA512, ECDSA_P256_SHA256, ED25519, HMAC_SHA256})

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)  # RFC 9421 section 3.3.1


@dataclass(frozen=True)
class SharedSecret:
    """An HMAC secret. Only a caller that really shares a secret with the signer builds one."""

    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class VerificationKey:
    """A public key as found for a ``keyId``: the key, its id and the actor that owns it.

    ``algorithm`` is the RFC 9421 algorithm the key is published for, when its source says so;
    it decides the algorithm when a signature names none.
    """

    key: PublicKey | SharedSecret
    key_id: str
    owner: str | None = None
    algorithm: str | None = None


KeyInput = PublicKey | SharedSecret | VerificationKey


def unwrap_key(key: KeyInput, key_id: str) -> tuple[PublicKey | SharedSecret, str | None]:
    """The raw key and its declared algorithm; refuses a VerificationKey for another ``keyId``."""
    if isinstance(key, VerificationKey):
        if key.key_id != key_id:
            raise InvalidSignature(f"signed with key {key_id!r}, but the key given is {key.key_id!r}")
        return key.key, key.algorithm
    return key, None


def load_public_key_pem(pem: str) -> PublicKey:
    """Load an SPKI (``BEGIN PUBLIC KEY``) or PKCS#1 (``BEGIN RSA PUBLIC KEY``) PEM public key."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise UnusableKey(f"cannot load the public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise UnusableKey(f"unsupported public key type {type(key).__name__}")
    return key


def load_private_key_pem(pem: str) -> PrivateKey:
    """Load an unencrypted PEM private key (PKCS#8 or PKCS#1) of a type we can sign with."""
    key = serialization.load_pem_private_key(pem.strip().encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def public_pem(key: PublicKey | PrivateKey) -> str:
    """The SPKI PEM of a key (of the public half for a private key), as actors publish it."""
    public = key if isinstance(key, PublicKey) else key.public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _is_p256(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bool:
    return isinstance(key.curve, ec.SECP256R1)


def algorithm_for_key(key: PublicKey | PrivateKey | SharedSecret) -> str:
    """The algorithm a key is used with when nothing else names one.

    RSA keys default to PKCS#1 v1.5 with SHA-256: every fediverse actor key is used that way.
    """
    if isinstance(key, SharedSecret):
        return HMAC_SHA256
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return RSA_V1_5_SHA256
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return ED25519
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and _is_p256(key):
        return ECDSA_P256_SHA256
    raise UnusableKey(f"no signature algorithm for a {type(key).__name__}")


def _fits(algorithm: str, key: PublicKey | PrivateKey | SharedSecret) -> bool:
    if algorithm in (RSA_V1_5_SHA256, RSA_PSS_SHA512):
        return isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey)
    if algorithm == ED25519:
        return isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey)
    if algorithm == ECDSA_P256_SHA256:
        return isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and _is_p256(key)
    return algorithm == HMAC_SHA256 and isinstance(key, SharedSecret)


def verify_with(algorithm: str, key: PublicKey | SharedSecret, data: bytes, signature: bytes) -> None:
    """Verify ``signature`` over ``data``; ECDSA signatures are raw ``r || s`` (64 bytes).

    Raises :class:`MalformedSignature` for an unknown algorithm and :class:`InvalidSignature`
    when the key does not fit the algorithm or the signature does not verify.
    """
    if algorithm not in ALGORITHMS:
        raise MalformedSignature(f"unsupported algorithm {algorithm!r}")
    if not _fits(algorithm, key):
        raise InvalidSignature(f"a {type(key).__name__} cannot verify {algorithm}")
    try:
        if isinstance(key, SharedSecret):
            expected = hmac.new(key.secret, data, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, signature):
                raise CryptoInvalidSignature
        elif isinstance(key, rsa.RSAPublicKey):
            pad = _PSS if algorithm == RSA_PSS_SHA512 else padding.PKCS1v15()
            digest = hashes.SHA512() if algorithm == RSA_PSS_SHA512 else hashes.SHA256()
            key.verify(signature, data, pad, digest)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            if len(signature) != 64:
                raise CryptoInvalidSignature
            key.verify(ecdsa_der_from_raw(signature), data, ec.ECDSA(hashes.SHA256()))
    except CryptoInvalidSignature as exc:
        raise InvalidSignature("the signature does not verify") from exc


def sign_with(algorithm: str, key: PrivateKey | SharedSecret, data: bytes) -> bytes:
    """Sign ``data``; the inverse of :func:`verify_with` (ECDSA gives raw ``r || s``)."""
    if algorithm not in ALGORITHMS or not _fits(algorithm, key):
        raise ValueError(f"cannot sign {algorithm} with a {type(key).__name__}")
    if isinstance(key, SharedSecret):
        return hmac.new(key.secret, data, hashlib.sha256).digest()
    if isinstance(key, rsa.RSAPrivateKey):
        if algorithm == RSA_PSS_SHA512:
            return key.sign(data, _PSS, hashes.SHA512())
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def ecdsa_raw_from_der(signature: bytes) -> bytes:
    """Convert a DER ECDSA P-256 signature to raw ``r || s``; raises InvalidSignature if not DER."""
    try:
        r, s = decode_dss_signature(signature)
    except ValueError as exc:
        raise InvalidSignature("not a DER ECDSA signature") from exc
    if r.bit_length() > 256 or s.bit_length() > 256:
        raise InvalidSignature("not a P-256 signature")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def ecdsa_der_from_raw(signature: bytes) -> bytes:
    """Convert a raw ``r || s`` ECDSA P-256 signature to DER."""
    if len(signature) != 64:
        raise ValueError("a raw P-256 signature is 64 bytes")
    return encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
