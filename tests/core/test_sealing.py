from __future__ import annotations

import pytest

from node.core.sealing import UnsealError, seal, unseal

SECRET = "a-node-secret-long-enough-for-the-tests-0123456789"


def test_round_trip_and_fresh_nonce() -> None:
    first = seal(SECRET, "contacts/1", b"12 rue de Paris")
    assert first != seal(SECRET, "contacts/1", b"12 rue de Paris")
    assert b"rue" not in first.encode()
    assert unseal(SECRET, "contacts/1", first) == b"12 rue de Paris"


@pytest.mark.parametrize(
    ("secret", "purpose", "mangle"),
    [
        ("another-secret-long-enough-for-the-tests-0123456789", "contacts/1", lambda v: v),
        (SECRET, "actor-key/1", lambda v: v),
        (SECRET, "contacts/1", lambda v: v[:-4] + ("AAAA" if not v.endswith("AAAA") else "BBBB")),
        (SECRET, "contacts/1", lambda v: "v2" + v[2:]),
        (SECRET, "contacts/1", lambda v: v[:10]),
    ],
)
def test_wrong_secret_purpose_or_damage_is_refused(secret: str, purpose: str, mangle: object) -> None:
    value = seal(SECRET, "contacts/1", b"06 12 34 56 78")
    assert callable(mangle)
    with pytest.raises(UnsealError):
        unseal(secret, purpose, mangle(value))
