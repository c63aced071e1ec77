"""A group's constitution as its coordinators record it: each member's category of associate, capital
share, college, bureau role, offers and (CAE) contract items; the voting colleges and their weights; and
the group as the legal rules read it (the snapshot and the checklist of the shape it aims at)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from node.accounts.models import User
from node.catalog.categories import by_slug
from node.core.errors import N_, Conflict, NotFound, ValidationFailed
from node.core.text import plain_text
from node.core.timeutil import utcnow
from node.groups import legal, records
from node.groups.lifecycles import MembershipState as M
from node.groups.models import College, Group, Member
from node.groups.service import (
    MSG_ASSOCIATE_CATEGORY,
    MSG_BUREAU,
    MSG_CAPITAL,
    MSG_CATEGORY,
    MSG_COLLEGE_NAME,
    MSG_COLLEGE_TAKEN,
    MSG_COLLEGE_WEIGHT,
    MSG_DATE,
    MSG_NO_COLLEGE,
    MSG_NO_MEMBER,
    MSG_PERCENT,
    require_coordinator,
)
from node.settings import Settings


@dataclass
class AssociateInput:
    """A member's place in the group's constitution, as a coordinator records it."""

    category: str = ""
    capital_percent: str = "0"
    college_id: int | None = None
    associate: bool = False
    bureau_role: str = ""
    offers: list[str] = field(default_factory=list)
    contract_items: list[str] = field(default_factory=list)
    contract_signed_on: str = ""


def _percent(text: str, field_name: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ".").rstrip("%").strip() or "0")
    except InvalidOperation:
        raise ValidationFailed(MSG_PERCENT, fields={field_name: MSG_PERCENT}) from None
    if not value.is_finite() or not Decimal("0") <= value <= Decimal("100"):
        raise ValidationFailed(MSG_PERCENT, fields={field_name: MSG_PERCENT})
    return value.quantize(Decimal("0.01"))


def set_associate(
    settings: Settings,
    coordinator: User,
    group: Group,
    member_id: int,
    data: AssociateInput,
    *,
    session: Session,
) -> Member:
    """Record a member's category of associate, capital share, college, bureau role, the services they
    offer in the group and (CAE) their contract's items."""
    require_coordinator(group, coordinator, session=session)
    row = records.member(group, member_id, session=session, lock=True)
    if row is None or row.state != M.ACTIVE.value:
        raise NotFound(MSG_NO_MEMBER)
    shape = legal.Shape(group.legal_shape)
    errors: dict[str, str] = {}
    allowed = {c.value for c in legal.CATEGORIES_OF[shape]}
    if data.category and data.category not in allowed:
        errors["category"] = MSG_ASSOCIATE_CATEGORY
    try:
        capital = _percent(data.capital_percent, "capital_percent")
        others = Decimal(str(records.capital_total(group, session=session, excluding=row.id)))
        if others + capital > Decimal("100"):
            errors["capital_percent"] = MSG_CAPITAL
    except ValidationFailed as exc:
        errors.update(exc.fields)
        capital = Decimal("0")
    if data.college_id is not None and records.college(group, data.college_id, session=session) is None:
        errors["college_id"] = MSG_NO_COLLEGE
    if data.bureau_role and data.bureau_role not in legal.BUREAU_ROLES:
        errors["bureau_role"] = MSG_BUREAU
    offers: list[str] = []
    for slug in data.offers[:26]:
        try:
            offers.append(by_slug(slug).slug)
        except ValueError:
            errors["offers"] = MSG_CATEGORY
    signed: date | None = None
    if data.contract_signed_on.strip():
        try:
            signed = date.fromisoformat(data.contract_signed_on.strip())
        except ValueError:
            errors["contract_signed_on"] = MSG_DATE
    if errors:
        raise ValidationFailed(
            next(iter(errors.values())) if len(errors) == 1 else N_("Some fields need attention."),
            fields=errors,
        )
    row.category = data.category
    row.capital_percent = capital
    row.college_id = data.college_id
    row.associate = data.associate
    row.bureau_role = data.bureau_role
    row.offers = json.dumps(sorted(set(offers)))
    row.contract = json.dumps({"items": sorted(set(data.contract_items) & set(legal.CONTRACT_ITEMS))})
    row.contract_signed_on = signed
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def _weight(text: str) -> Decimal:
    value = _percent(text, "weight")
    if not legal.COLLEGE_MIN <= value <= legal.COLLEGE_MAX:
        raise ValidationFailed(MSG_COLLEGE_WEIGHT, fields={"weight": MSG_COLLEGE_WEIGHT})
    return value


def add_college(
    settings: Settings, coordinator: User, group: Group, name: str, weight: str, *, session: Session
) -> College:
    """A voting college with its share of the votes (10–50 %, art. 19 octies)."""
    require_coordinator(group, coordinator, session=session)
    cleaned = plain_text(name, 80)
    if not cleaned:
        raise ValidationFailed(MSG_COLLEGE_NAME, fields={"name": MSG_COLLEGE_NAME})
    row = College(group_id=group.pk, name=cleaned, weight=_weight(weight))
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(MSG_COLLEGE_TAKEN, fields={"name": MSG_COLLEGE_TAKEN}) from None
    return row


def set_college_weight(
    settings: Settings, coordinator: User, group: Group, college_id: int, weight: str, *, session: Session
) -> College:
    require_coordinator(group, coordinator, session=session)
    row = records.college(group, college_id, session=session)
    if row is None:
        raise NotFound(MSG_NO_COLLEGE)
    row.weight = _weight(weight)
    session.add(row)
    return row


def delete_college(
    settings: Settings, coordinator: User, group: Group, college_id: int, *, session: Session
) -> None:
    require_coordinator(group, coordinator, session=session)
    row = records.college(group, college_id, session=session)
    if row is None:
        raise NotFound(MSG_NO_COLLEGE)
    for member in records.members(group, session=session, states=[s.value for s in M]):
        if member.college_id == row.id:
            member.college_id = None
            session.add(member)
    session.delete(row)


# --- the legal checklist ----------------------------------------------------------------------------------


def may_invoice(user: User | None) -> bool | None:
    """Whether a member of this node has a status to invoice under (None for another node's member)."""
    if user is None:
        return None
    if user.provider_status == "self_employed":
        return bool(user.siret)
    return user.provider_status in ("association", "cooperative_member")


def snapshot(group: Group, *, session: Session, today: date | None = None) -> legal.Snapshot:
    """The group as the legal rules read it."""
    colleges = {c.id: c for c in records.colleges(group, session=session)}
    associates = []
    for row in records.members(group, session=session):
        try:
            items = frozenset(json.loads(row.contract or "{}").get("items", []))
        except (ValueError, AttributeError):
            items = frozenset()
        user = session.get(User, row.local_user_id) if row.local_user_id is not None else None
        college = colleges.get(row.college_id) if row.college_id is not None else None
        associates.append(
            legal.Associate(
                name=row.name or row.member_uri,
                category=row.category,
                capital=row.capital_percent,
                college=college.name if college else None,
                associate=row.associate,
                bureau_role=row.bureau_role,
                contract_items=items,
                contract_signed_on=row.contract_signed_on,
                may_invoice=may_invoice(user),
            )
        )
    return legal.Snapshot(
        members=associates,
        colleges={c.name: c.weight for c in colleges.values()},
        today=today or date.today(),
    )


def checklist(group: Group, *, session: Session, shape: str | None = None) -> list[legal.Check]:
    """The checks of the legal shape ``group`` aims at (or of ``shape``), against its active members."""
    return legal.checklist(legal.Shape(shape or group.legal_shape), snapshot(group, session=session))
