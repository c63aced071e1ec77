"""Tables of the micro-organisations: the groups of this node, their members (on any node), voting
colleges, the assignment of a member to each agreement of a group, the notices a group sends its members,
and this node's people's memberships of groups held by other nodes.

Percentages (capital shares, college weights, contribution rates) are exact decimals; a group's rules
that have a shape of their own (contribution brackets, a CAE contract's items) are JSON text.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint

from node.activitypub.models import URI
from node.core.sqlbase import Field, SQLModel
from node.core.timeutil import UTCDateTime, utcnow


def _group_fk() -> Column[int]:
    return Column(Integer, ForeignKey("groups.id", ondelete="CASCADE"), nullable=False, index=True)


def _user_fk(ondelete: str = "SET NULL") -> Column[int]:
    return Column(Integer, ForeignKey("users.id", ondelete=ondelete), nullable=True, index=True)


class Group(SQLModel, table=True):
    """A micro-organisation of this node and its rules (its actor is ``/groups/{name}``)."""

    __tablename__ = "groups"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(30), unique=True, nullable=False))  # never reused
    display_name: str = Field(max_length=80)
    summary: str = Field(default="", max_length=2000)
    territory: str = Field(default="", max_length=120)
    departement: str = Field(default="", max_length=3, index=True)
    categories: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))  # slugs
    legal_shape: str = Field(default="collective", max_length=16, index=True)
    join_policy: str = Field(default="approval", max_length=12)  # approval | open
    sharing_rule: str = Field(
        default="coordinator", max_length=16
    )  # coordinator | round_robin | first_available
    contribution_rate: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(5, 2), nullable=False))
    # [[from_amount, rate], ...] marginal brackets on a member's turnover in the month (CAE style)
    contribution_brackets: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    members_see: str = Field(default="all", max_length=8)  # all | own
    rules_text: str = Field(default="", max_length=4000)
    state: str = Field(default="active", max_length=12, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def pk(self) -> int:
        assert self.id is not None, "group not stored yet"
        return self.id

    @property
    def is_active(self) -> bool:
        return self.state == "active"


class College(SQLModel, table=True):
    """A voting college of a cooperative and its share of the votes (a percentage)."""

    __tablename__ = "group_colleges"
    __table_args__ = (UniqueConstraint("group_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(sa_column=_group_fk())
    name: str = Field(max_length=80)
    weight: Decimal = Field(sa_column=Column(Numeric(5, 2), nullable=False))


class Member(SQLModel, table=True):
    """A member of one of our groups, on this node (``local_user_id``) or another."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "member_uri"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(sa_column=_group_fk())
    member_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    local_user_id: int | None = Field(default=None, sa_column=_user_fk("CASCADE"))
    name: str = Field(default="", max_length=200)  # as the member's actor says, for display
    state: str = Field(default="pending", max_length=12, index=True)
    role: str = Field(default="member", max_length=12)  # founder | coordinator | member
    category: str = Field(default="", max_length=16)  # of associate (legal.Category), '' when none
    college_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("group_colleges.id", ondelete="SET NULL"), nullable=True),
    )
    capital_percent: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(5, 2), nullable=False))
    associate: bool = Field(default=False)  # holds shares (CAE: an entrepreneur who became associate)
    bureau_role: str = Field(default="", max_length=12)  # association: president | treasurer | secretary
    offers: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))  # category slugs
    contract: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))  # CAE items
    contract_signed_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    message: str = Field(default="", max_length=500)  # with a request to join
    join_activity_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    invite_activity_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    joined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Assignment(SQLModel, table=True):
    """Who of a group's members carries out one of its agreements (the group's ``Commitment``)."""

    __tablename__ = "group_assignments"

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(sa_column=_group_fk())
    agreement_ap_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    commitment_ap_id: str = Field(sa_column=Column(String(URI), unique=True, nullable=False))
    member_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    rule: str = Field(max_length=16)  # coordinator | round_robin | first_available
    assigned_by_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    replaced_uri: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Notice(SQLModel, table=True):
    """A notice a group sends its members only (sent by one of our groups, or received by one of our
    members from a group of another node: ``user_id`` is then the member it was delivered to)."""

    __tablename__ = "group_notices"
    __table_args__ = (UniqueConstraint("ap_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    group_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    ap_id: str = Field(sa_column=Column(String(URI), nullable=False))
    user_id: int | None = Field(default=None, sa_column=_user_fk("CASCADE"))
    author_uri: str = Field(sa_column=Column(String(URI), nullable=False))
    content: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # plain text
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class RemoteMembership(SQLModel, table=True):
    """One of our people's membership of a group held by another node, as that group told us."""

    __tablename__ = "group_remote_memberships"
    __table_args__ = (UniqueConstraint("group_uri", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    group_uri: str = Field(sa_column=Column(String(URI), nullable=False, index=True))
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    group_name: str = Field(default="", max_length=200)
    state: str = Field(default="pending", max_length=12)
    role: str = Field(default="member", max_length=12)
    join_activity_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    invite_activity_id: str | None = Field(default=None, sa_column=Column(String(URI), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
