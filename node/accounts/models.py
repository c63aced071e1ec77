"""Tables of the accounts capability. Enumerations are stored as short strings for portability."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String, text

from node.catalog.statuses import ProviderStatus
from node.core.errors import N_
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


class Role(StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    RESEARCHER = "researcher"  # a member who also reads the research figures' exports (issue 15)


class AccountStatus(StrEnum):
    PENDING = "pending"  # waiting for a coordinator's approval
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"  # a tombstone: personal data erased, the name kept so that it is never reused


ROLE_LABELS: dict[Role, str] = {
    Role.MEMBER: N_("Member"),
    Role.COORDINATOR: N_("Coordinator"),
    Role.ADMIN: N_("Administrator"),
    Role.RESEARCHER: N_("Researcher"),
}

STATUS_LABELS: dict[AccountStatus, str] = {
    AccountStatus.PENDING: N_("Pending approval"),
    AccountStatus.ACTIVE: N_("Active"),
    AccountStatus.SUSPENDED: N_("Suspended"),
    AccountStatus.DELETED: N_("Deleted"),
}


def _user_fk(ondelete: str = "CASCADE", nullable: bool = False) -> Column[int]:
    return Column(Integer, ForeignKey("users.id", ondelete=ondelete), nullable=nullable, index=True)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(30), unique=True, nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(254), unique=True, nullable=True))
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.MEMBER.value, max_length=16)
    status: str = Field(default=AccountStatus.ACTIVE.value, max_length=16, index=True)
    display_name: str = Field(default="", max_length=80)
    bio: str = Field(default="", max_length=1000)
    postal_code: str = Field(default="", max_length=5)
    commune_insee: str = Field(default="", max_length=5)
    commune_name: str = Field(default="", max_length=80)
    offers_services: bool = Field(default=False)
    requests_services: bool = Field(default=True)
    provider_status: str = Field(default=ProviderStatus.NONE.value, max_length=32)
    siret: str | None = Field(default=None, max_length=14)
    language: str | None = Field(default=None, max_length=5)
    registration_note: str = Field(default="", max_length=500)
    # False: follow requests are accepted automatically.
    approve_followers: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    avatar: str | None = Field(default=None, max_length=32)  # content hash of the picture (accounts.avatars)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, index=True
    )  # matching's refresh
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The agrément (or autorisation) number a provider declares; shown as declared, never checked remotely.
    approval_number: str | None = Field(default=None, max_length=40)

    @property
    def pk(self) -> int:
        """The primary key of a stored account."""
        assert self.id is not None, "account not stored yet"
        return self.id

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE

    @property
    def is_coordinator(self) -> bool:
        return self.role in (Role.COORDINATOR, Role.ADMIN)

    @property
    def reads_research(self) -> bool:
        """Coordinators, admins and researchers see the research figures' exports."""
        return self.is_coordinator or self.role == Role.RESEARCHER

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def name(self) -> str:
        return self.display_name or self.username


class UserCategory(SQLModel, table=True):
    """A service category (slug from :mod:`node.catalog.categories`) a person offers."""

    __tablename__ = "user_categories"

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    category: str = Field(max_length=64, primary_key=True)


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only a SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    name: str = Field(max_length=80)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A login session of the web pages; the cookie holds the secret, the table its SHA-256."""

    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    user_id: int = Field(sa_column=_user_fk())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class Invite(SQLModel, table=True):
    """An invitation code for nodes whose registration policy is ``invite``."""

    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    prefix: str = Field(max_length=16)
    note: str = Field(default="", max_length=200)
    created_by_id: int | None = Field(default=None, sa_column=_user_fk("SET NULL", nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    used_by_id: int | None = Field(default=None, sa_column=_user_fk("SET NULL", nullable=True))
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """One failed login, keyed by account name and by client address, for throttling."""

    __tablename__ = "login_failures"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
