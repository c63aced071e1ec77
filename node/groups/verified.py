"""Verified-status badges on profiles and cards (shown by the pages): one per fact this node checked,
each saying what was checked and what was not.

- **SIRET**: its 14 digits and its check key (Luhn, La Poste's exception included) are checked when the
  profile is saved (:func:`node.accounts.service.siret_is_valid`); the SIRENE register is not queried,
  so a closed business still shows the badge.
- **Agrément**: an agrément (or autorisation) number is given on the profile; it is shown as declared,
  never checked with the State's services.
- **Cooperative member**: an active member of a group of this node whose legal shape is a cooperative
  (SCIC, SCOP, CAE); the shape is the one its founders declared.

Only people of this node get badges: nothing about a remote person was checked here."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from node.accounts.models import User
from node.accounts.service import siret_is_valid
from node.core.errors import N_
from node.groups.legal import Shape
from node.groups.lifecycles import MembershipState
from node.groups.models import Group, Member

COOPERATIVE_SHAPES = (Shape.SCIC.value, Shape.SCOP.value, Shape.CAE.value)


@dataclass(frozen=True)
class Fact:
    """One verified fact: ``label`` (message id, formatted with ``value``) for the badge, ``checked`` and
    ``unchecked`` (message ids) for what this node checked and what it did not."""

    kind: str
    label: str
    value: str
    checked: str
    unchecked: str


@functools.cache
def _cooperatives_statement() -> Select[int | None, str]:
    """The cooperatives ``user_ids`` are active members of: every listing reads its authors' (built once)."""
    return (
        select(col(Member.local_user_id), col(Group.display_name))
        .join(Group, col(Group.id) == col(Member.group_id))
        .where(
            col(Member.local_user_id).in_(bindparam("user_ids", expanding=True)),
            col(Member.state) == MembershipState.ACTIVE.value,
            col(Group.legal_shape).in_(COOPERATIVE_SHAPES),
            col(Group.state) == "active",
        )
        .order_by(col(Group.display_name))
    )


def facts_of(users: Iterable[User], *, session: Session) -> dict[int, list[Fact]]:
    """The verified facts of each of ``users`` (by id), the cooperatives read in one query."""
    people = [user for user in users if user.id is not None]
    groups: dict[int, list[str]] = {}
    if people:
        rows = session.exec(
            _cooperatives_statement(), params={"user_ids": [user.id for user in people]}
        ).all()
        for user_id, name in rows:
            if user_id is not None:
                groups.setdefault(user_id, []).append(name)
    found: dict[int, list[Fact]] = {}
    for user in people:
        facts = []
        if user.siret and siret_is_valid(user.siret):
            facts.append(
                Fact(
                    "siret",
                    N_("SIRET checked"),
                    user.siret,
                    N_("The SIRET number has 14 digits and a valid check key (Luhn)."),
                    N_("Not checked in the SIRENE register: the business may have closed since."),
                )
            )
        if user.approval_number:
            facts.append(
                Fact(
                    "approval",
                    N_("Agrément number given"),
                    user.approval_number,
                    N_("An agrément (or autorisation) number is given on the profile."),
                    N_("The number is shown as declared: it is not checked with the State's services."),
                )
            )
        if user.id in groups:
            facts.append(
                Fact(
                    "cooperative",
                    N_("Cooperative member"),
                    ", ".join(groups[user.pk]),
                    N_("An active member of a cooperative group (SCIC, SCOP or CAE) of this node."),
                    N_("The group's legal shape is the one its founders declared."),
                )
            )
        found[user.pk] = facts
    return found


def facts_by_uri(users: Mapping[str, User], *, session: Session) -> dict[str, list[Fact]]:
    """The verified facts of ``users`` (people of this node, by actor URI, as
    :func:`node.accounts.people.local_users` reads them); remote people have none."""
    facts = facts_of(users.values(), session=session)
    return {uri: facts[user.pk] for uri, user in users.items() if facts.get(user.pk)}
