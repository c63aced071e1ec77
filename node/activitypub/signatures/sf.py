"""Structured Field Values (RFC 8941), the syntax of Signature-Input, Signature and Content-Digest.

Parsing is strict, as RFC 8941 section 4.2 asks: anything that does not follow the grammar raises
:class:`StructuredFieldError` and the whole field is to be ignored (for us: refused). Bare items map
to Python as ``int``, ``Decimal``, ``str`` (String), :class:`Token`, ``bytes`` (Byte Sequence) and
``bool``.
"""

from __future__ import annotations

import base64
import binascii
import string
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal


class StructuredFieldError(ValueError):
    """A field value that does not follow RFC 8941."""


class Token(str):
    """An RFC 8941 Token, told apart from a String."""

    __slots__ = ()


BareItem = int | Decimal | str | Token | bytes | bool
Params = dict[str, BareItem]


@dataclass(frozen=True)
class Item:
    value: BareItem
    params: Params = field(default_factory=dict)


@dataclass(frozen=True)
class InnerList:
    items: list[Item]
    params: Params = field(default_factory=dict)


Member = Item | InnerList

_LCALPHA = frozenset(string.ascii_lowercase)
_KEY_FIRST = _LCALPHA | {"*"}
_DIGITS = frozenset(string.digits)
_TOKEN_FIRST = frozenset(string.ascii_letters + "*")
_KEY_CHARS = _LCALPHA | frozenset(string.digits) | frozenset("_-.*")
_TCHAR = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")
_TOKEN_CHARS = _TCHAR | frozenset(":/")
_BASE64_CHARS = frozenset(string.ascii_letters + string.digits + "+/=")
_MAX_INTEGER = 999_999_999_999_999


class _Parser:
    def __init__(self, text: str) -> None:
        if not text.isascii():
            raise StructuredFieldError("structured field values are ASCII")
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        char = self.peek()
        self.pos += 1
        return char

    def skip(self, chars: str) -> None:
        while self.peek() and self.peek() in chars:
            self.pos += 1

    def done(self) -> bool:
        return self.pos >= len(self.text)

    def finish(self) -> None:
        self.skip(" ")
        if not self.done():
            raise StructuredFieldError(f"unexpected {self.peek()!r} at {self.pos}")

    def members_separator(self) -> bool:
        """After a list or dictionary member: True if another member follows."""
        self.skip(" \t")
        if self.done():
            return False
        if self.take() != ",":
            raise StructuredFieldError(f"expected ',' at {self.pos - 1}")
        self.skip(" \t")
        if self.done():
            raise StructuredFieldError("trailing comma")
        return True

    def member(self) -> Member:
        if self.peek() == "(":
            return self.inner_list()
        return self.item()

    def item(self) -> Item:
        value = self.bare_item()
        return Item(value, self.params())

    def inner_list(self) -> InnerList:
        self.take()  # "("
        items: list[Item] = []
        while not self.done():
            self.skip(" ")
            if self.peek() == ")":
                self.take()
                return InnerList(items, self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise StructuredFieldError(f"expected ' ' or ')' at {self.pos}")
        raise StructuredFieldError("unterminated inner list")

    def params(self) -> Params:
        params: Params = {}
        while self.peek() == ";":
            self.take()
            self.skip(" ")
            name = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.take()
                value = self.bare_item()
            params[name] = value
        return params

    def key(self) -> str:
        if self.peek() not in _KEY_FIRST:
            raise StructuredFieldError(f"expected a key at {self.pos}")
        start = self.pos
        while self.peek() and self.peek() in _KEY_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def bare_item(self) -> BareItem:
        char = self.peek()
        if char == "-" or char in _DIGITS:
            return self.number()
        if char == '"':
            return self.string()
        if char == ":":
            return self.byte_sequence()
        if char == "?":
            return self.boolean()
        if char in _TOKEN_FIRST:
            return self.token()
        raise StructuredFieldError(f"expected an item at {self.pos}")

    def number(self) -> int | Decimal:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        digits_start = self.pos
        while self.peek() in _DIGITS or self.peek() == ".":
            self.pos += 1
        text = self.text[start : self.pos]
        digits = self.text[digits_start : self.pos]
        if not digits or digits[0] not in _DIGITS:
            raise StructuredFieldError(f"expected a digit at {digits_start}")
        if "." not in digits:
            if len(digits) > 15:
                raise StructuredFieldError("integer out of range")
            return int(text)
        whole, _, fraction = digits.partition(".")
        if "." in fraction or len(whole) > 12 or not 1 <= len(fraction) <= 3:
            raise StructuredFieldError(f"invalid decimal {text!r}")
        return Decimal(text)

    def string(self) -> str:
        self.take()  # '"'
        chars: list[str] = []
        while not self.done():
            char = self.take()
            if char == "\\":
                escaped = self.take()
                if escaped not in ('"', "\\"):
                    raise StructuredFieldError("invalid escape in string")
                chars.append(escaped)
            elif char == '"':
                return "".join(chars)
            elif not " " <= char <= "~":
                raise StructuredFieldError("invalid character in string")
            else:
                chars.append(char)
        raise StructuredFieldError("unterminated string")

    def token(self) -> Token:
        start = self.pos
        self.pos += 1
        while self.peek() and self.peek() in _TOKEN_CHARS:
            self.pos += 1
        return Token(self.text[start : self.pos])

    def byte_sequence(self) -> bytes:
        self.take()  # ":"
        end = self.text.find(":", self.pos)
        if end < 0:
            raise StructuredFieldError("unterminated byte sequence")
        encoded = self.text[self.pos : end]
        self.pos = end + 1
        if not set(encoded) <= _BASE64_CHARS:
            raise StructuredFieldError("invalid character in byte sequence")
        if "=" not in encoded:
            # RFC 8941 section 4.2.7: parsers should not fail when padding is absent.
            encoded += "=" * (-len(encoded) % 4)
        try:
            return base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise StructuredFieldError(f"invalid base64 in byte sequence: {exc}") from exc

    def boolean(self) -> bool:
        self.take()  # "?"
        char = self.take()
        if char not in ("0", "1"):
            raise StructuredFieldError("invalid boolean")
        return char == "1"


def parse_item(text: str) -> Item:
    """Parse a field value whose top-level type is Item."""
    parser = _Parser(text)
    parser.skip(" ")
    result = parser.item()
    parser.finish()
    return result


def parse_list(text: str) -> list[Member]:
    """Parse a field value whose top-level type is List."""
    parser = _Parser(text)
    parser.skip(" ")
    members: list[Member] = []
    while not parser.done():
        members.append(parser.member())
        if not parser.members_separator():
            break
    parser.finish()
    return members


def parse_dictionary(text: str, *, allow_duplicates: bool = True) -> dict[str, Member]:
    """Parse a field value whose top-level type is Dictionary.

    RFC 8941 lets a repeated key overwrite the earlier one; ``allow_duplicates=False`` refuses
    that instead, for fields where a repeated key can only be an attempt to confuse.
    """
    parser = _Parser(text)
    parser.skip(" ")
    members: dict[str, Member] = {}
    while not parser.done():
        name = parser.key()
        member: Member
        if parser.peek() == "=":
            parser.take()
            member = parser.member()
        else:
            member = Item(True, parser.params())
        if name in members and not allow_duplicates:
            raise StructuredFieldError(f"repeated dictionary key {name!r}")
        members[name] = member
        if not parser.members_separator():
            break
    parser.finish()
    return members


def serialize_bare_item(value: BareItem) -> str:
    """Serialize one bare item (RFC 8941 section 4.1.3.1)."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        if abs(value) > _MAX_INTEGER:
            raise StructuredFieldError("integer out of range")
        return str(value)
    if isinstance(value, Decimal):
        rounded = value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)
        if abs(rounded) >= Decimal(10) ** 12:
            raise StructuredFieldError("decimal out of range")
        text = format(rounded.normalize(), "f")
        return text if "." in text else text + ".0"
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        if not value or value[0] not in _TOKEN_FIRST or not set(value) <= _TOKEN_CHARS:
            raise StructuredFieldError(f"invalid token {value!r}")
        return str(value)
    if not all(" " <= char <= "~" for char in value):
        raise StructuredFieldError("strings must be printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def serialize_params(params: Params) -> str:
    """Serialize parameters, in their order (``;a=1;b``)."""
    parts: list[str] = []
    for name, value in params.items():
        parts.append(";" + name if value is True else f";{name}={serialize_bare_item(value)}")
    return "".join(parts)


def serialize_member(member: Member) -> str:
    """Serialize an Item or an Inner List with its parameters."""
    if isinstance(member, InnerList):
        inner = " ".join(serialize_member(item) for item in member.items)
        return f"({inner}){serialize_params(member.params)}"
    return serialize_bare_item(member.value) + serialize_params(member.params)


def serialize_list(members: list[Member]) -> str:
    """Serialize a List."""
    return ", ".join(serialize_member(member) for member in members)


def serialize_dictionary(members: dict[str, Member]) -> str:
    """Serialize a Dictionary; a member whose value is ``True`` is written as its bare key."""
    parts: list[str] = []
    for name, member in members.items():
        if isinstance(member, Item) and member.value is True:
            parts.append(name + serialize_params(member.params))
        else:
            parts.append(f"{name}={serialize_member(member)}")
    return ", ".join(parts)
