"""Input and output shapes of the JSON API, kept apart from the tables."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from node.accounts.models import User
from node.catalog.categories import CATEGORIES
from node.catalog.statuses import ProviderStatus

CategorySlug = Enum(  # type: ignore[misc]
    "CategorySlug", {category.slug.replace("-", "_"): category.slug for category in CATEGORIES}, type=str
)
"""The slug of one of the 26 service categories."""


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
    categories: list[CategorySlug] | None = Field(default=None, max_length=26)
    language: str | None = Field(default=None, pattern="^(fr|en)$")


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=80, pattern=r"\S", description="Not only spaces")


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
