"""Input and output shapes of the JSON API, kept apart from the tables.

The rules an input field obeys on its own are declared here once, so that the same declaration
validates the request and writes the OpenAPI document: :func:`text` (visible characters, not only
spaces), :class:`DecimalText` (how a decimal may be written, its pattern made from its bounds), the
category slugs of the catalogue. Rules that depend on the node's state or on several fields at once are the
services' (a 422 naming the field)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from node.accounts.models import User
from node.catalog.categories import CATEGORIES
from node.catalog.statuses import ProviderStatus

CategorySlug = Enum(  # type: ignore[misc]
    "CategorySlug", {category.slug.replace("-", "_"): category.slug for category in CATEGORIES}, type=str
)
"""The slug of one of the 26 service categories."""


VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f]"
"""A character that shows: neither white space nor a control character (which the services drop)."""


def visible_run(min_length: int) -> str:
    """A pattern found in a text iff, once stripped of white space, it keeps ``min_length`` characters
    and starts and ends with visible ones."""
    return VISIBLE if min_length <= 1 else rf"{VISIBLE}[\s\S]{{{min_length - 2},}}{VISIBLE}"


def text(min_length: int = 1, max_length: int | None = None, **kwargs: Any) -> Any:
    """A required text field: at least ``min_length`` characters once white space around is stripped
    (as :class:`Strict` does), showing at least one visible character."""
    return Field(min_length=min_length, max_length=max_length, pattern=visible_run(min_length), **kwargs)


class DecimalText:
    """A decimal, as a JSON number or as a string written as ``pattern``, within the bounds given
    (``ge``, ``le``, ``gt``). Used as ``Annotated[Decimal, DecimalText(...)]``: the same object checks
    the request and writes the document (the pattern on the string branch, the bounds on the number)."""

    def __init__(
        self, pattern: str, *, ge: Decimal | None = None, le: Decimal | None = None, gt: Decimal | None = None
    ) -> None:
        self.pattern = pattern
        self.bounds = {"ge": ge, "le": le, "gt": gt}
        self._compiled = re.compile(pattern)

    @classmethod
    def between(
        cls, low: Decimal, high: Decimal, *, places: int | None = None, above: bool = False
    ) -> DecimalText:
        """From ``low`` (excluded if ``above``) to ``high`` (a whole number), with at most ``places``
        decimals in a string (any number if None): the string's pattern is made from the same bounds."""
        fraction = "[0-9]+" if places is None else f"[0-9]{{1,{places}}}"
        whole = int(low)
        first = whole if low == whole and not above else whole + 1
        alternatives = []
        if first <= int(high) - 1:
            alternatives.append(rf"(?:{integers_pattern(first, int(high) - 1)})(?:\.{fraction})?")
        if first > whole:  # the whole number below ``first``, with a fraction above the bound's
            digits = []
            for count in range(1, (places or 2) + 1):
                scaled = (low - whole) * 10**count
                least = int(scaled) + 1 if above or scaled != int(scaled) else int(scaled)
                if least < 10**count:
                    digits += _span(str(least).zfill(count), "9" * count)
            alternatives.append(rf"{whole}\.(?:{'|'.join(digits)})")
        alternatives.append(rf"{int(high)}(?:\.0{{1,{places}}})?" if places else rf"{int(high)}(?:\.0+)?")
        bounds = {"gt": low} if above else {"ge": low}
        return cls(f"^(?:{'|'.join(alternatives)})$", le=high, **bounds)

    def _read(self, value: Any) -> Any:
        if isinstance(value, str):
            if not self._compiled.search(value):
                raise PydanticCustomError("decimal_text", "Not a decimal in the expected form")
            return Decimal(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return Decimal(str(value))
        if isinstance(value, Decimal):
            return value
        raise PydanticCustomError("decimal_type", "Expected a number, or a decimal as a string")

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        bounds = {name: value for name, value in self.bounds.items() if value is not None}
        return core_schema.no_info_before_validator_function(
            self._read,
            core_schema.decimal_schema(allow_inf_nan=False, **bounds),  # type: ignore[arg-type]
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        document = handler(schema)
        for branch in document.get("anyOf", []):
            if branch.get("type") == "string":
                branch["pattern"] = self.pattern
        return document


def _span(low: str, high: str) -> list[str]:
    """Patterns of the digit strings from ``low`` to ``high``, both of the same length."""
    if not low:
        return [""]
    rest = len(low) - 1
    if low[0] == high[0]:
        return [low[0] + tail for tail in _span(low[1:], high[1:])]
    if low[1:] == "0" * rest and high[1:] == "9" * rest:
        return [f"[{low[0]}-{high[0]}]" + "[0-9]" * rest]
    alternatives = [low[0] + tail for tail in _span(low[1:], "9" * rest)]
    if int(high[0]) - int(low[0]) > 1:
        alternatives.append(f"[{int(low[0]) + 1}-{int(high[0]) - 1}]" + "[0-9]" * rest)
    return alternatives + [high[0] + tail for tail in _span("0" * rest, high[1:])]


def integers_pattern(low: int, high: int) -> str:
    """Alternatives matching the writing (no leading zero) of every whole number from ``low`` to ``high``."""
    alternatives: list[str] = []
    for length in range(len(str(low)), len(str(high)) + 1):
        first = max(low, 10 ** (length - 1) if length > 1 else 0)
        last = min(high, 10**length - 1)
        if first <= last:
            alternatives += _span(str(first), str(last))
    return "|".join(alternatives)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Profile(BaseModel):
    display_name: str
    bio: str
    postal_code: str
    commune_insee: str
    commune_name: str
    offers_services: bool
    requests_services: bool
    provider_status: str
    siret: str | None
    approval_number: str | None
    categories: list[str]


class Account(BaseModel):
    """The caller's own account."""

    username: str
    email: str | None
    role: str
    status: str
    language: str | None
    created_at: datetime
    url: str
    profile: Profile

    @classmethod
    def of(cls, user: User, categories: list[str], url: str) -> Account:
        return cls(
            username=user.username,
            email=user.email,
            role=user.role,
            status=user.status,
            language=user.language,
            created_at=user.created_at,
            url=url,
            profile=Profile(
                display_name=user.display_name,
                bio=user.bio,
                postal_code=user.postal_code,
                commune_insee=user.commune_insee,
                commune_name=user.commune_name,
                offers_services=user.offers_services,
                requests_services=user.requests_services,
                provider_status=user.provider_status,
                siret=user.siret,
                approval_number=user.approval_number,
                categories=categories,
            ),
        )


class ProfileUpdate(Strict):
    """Fields to change; absent fields keep their value."""

    display_name: str | None = Field(default=None, max_length=80)
    bio: str | None = Field(default=None, max_length=1000)
    postal_code: str | None = Field(
        default=None,
        pattern=r"^$|^(?:[0-8]\d|9[0-8])\d{3}$",
        description="A French postal code of 5 digits, or empty to forget the place",
    )
    commune_name: str | None = Field(default=None, max_length=80)
    offers_services: bool | None = None
    requests_services: bool | None = None
    provider_status: ProviderStatus | None = None
    siret: str | None = Field(default=None, max_length=20, pattern=r"^[\d ]*$")
    approval_number: str | None = Field(
        default=None,
        max_length=80,
        description="The provider's agrément number (SAP), as the prefecture wrote it; empty to remove it",
    )
    categories: list[CategorySlug] | None = Field(default=None, max_length=26)
    language: str | None = Field(default=None, pattern="^(fr|en)$")


class TokenCreate(Strict):
    name: str = text(max_length=80, description="Not only spaces")


class Token(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class NewToken(Token):
    token: str = Field(description="The secret, shown only once.")


class Category(BaseModel):
    slug: str
    label_fr: str
    label_en: str
    group: str
    requires_approval: bool
    legal_ref: str


class NodeDescription(BaseModel):
    name: str
    territory: str
    mode: str
    registration: str
    base_url: str
    software: str
    version: str


class UserSummary(BaseModel):
    username: str
    display_name: str
    role: str
    status: str
    created_at: datetime


class RoleChange(Strict):
    role: str = Field(pattern="^(member|coordinator|admin|researcher)$")
