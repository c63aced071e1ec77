"""The RFC 8941 parser and serializer behind Signature-Input, Signature and Content-Digest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node.activitypub.signatures.sf import (
    InnerList,
    Item,
    StructuredFieldError,
    Token,
    parse_dictionary,
    parse_item,
    parse_list,
    serialize_bare_item,
    serialize_dictionary,
    serialize_list,
    serialize_member,
)


def test_signature_input_round_trip() -> None:
    text = 'sig1=("@method" "@query-param";name="Pet");created=1618884473;keyid="k";alg="ed25519"'
    members = parse_dictionary(text)
    member = members["sig1"]
    assert isinstance(member, InnerList)
    assert member.items == [Item("@method"), Item("@query-param", {"name": "Pet"})]
    assert member.params == {"created": 1618884473, "keyid": "k", "alg": "ed25519"}
    assert serialize_dictionary(members) == text


def test_bare_items() -> None:
    item = parse_item('tok/en:1;a;b=?0;c=-1.5;d=:aGk=:;e="q\\"s"')
    assert item.value == Token("tok/en:1") and isinstance(item.value, Token)
    assert item.params == {"a": True, "b": False, "c": Decimal("-1.5"), "d": b"hi", "e": 'q"s'}
    assert serialize_member(item) == 'tok/en:1;a;b=?0;c=-1.5;d=:aGk=:;e="q\\"s"'
    assert parse_item(":aGk:").value == b"hi"  # padding may be left out (RFC 8941 section 4.2.7)


def test_whitespace_is_normalised() -> None:
    # The example of RFC 9421 section 2.1.1.
    members = parse_dictionary("a=1,    b=2;x=1;y=2,   c=(a   b   c)")
    assert serialize_dictionary(members) == "a=1, b=2;x=1;y=2, c=(a b c)"
    assert serialize_list(parse_list("  (a b);q=1 ,\tc  ")) == "(a b);q=1, c"
    assert parse_dictionary("") == {}


def test_duplicates() -> None:
    assert parse_dictionary("a=1, a=2") == {"a": Item(2)}
    with pytest.raises(StructuredFieldError):
        parse_dictionary("a=1, a=2", allow_duplicates=False)


@pytest.mark.parametrize(
    "text",
    [
        "a=1,",
        "a=1 b=2",
        "A=1",
        "a=(1 2",
        'a="unterminated',
        'a="bad\\escape"',
        "a=:not base64!:",
        "a=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg==:",
        "a=1234567890123456",
        "a=1.2345",
        "a=?2",
        "a=é",
    ],
)
def test_invalid_dictionaries(text: str) -> None:
    with pytest.raises(StructuredFieldError):
        parse_dictionary(text)


def test_serialize_refuses_what_cannot_be_sent() -> None:
    for value in ("line\nbreak", Token("1abc"), 10**15):
        with pytest.raises(StructuredFieldError):
            serialize_bare_item(value)
    assert serialize_bare_item(Decimal("2.50")) == "2.5"
    assert serialize_bare_item(Decimal("3")) == "3.0"
