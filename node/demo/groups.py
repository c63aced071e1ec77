"""The demo's micro-organisations: their tables (``groups.toml``, ``group_colleges.toml``,
``group_members.toml``), read and checked, and their seeding on their node through the real services
(before the node serves: everything is local to the group's node)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from sqlmodel import Session

from node.accounts.models import User
from node.demo.loader import data_folder
from node.demo.tables import DemoDataError, read_table
from node.groups import associates, legal, records, service
from node.groups import profile as group_profile
from node.groups.lifecycles import MembershipState
from node.groups.rules import SharingRule
from node.settings import Settings

GROUP_COLUMNS = (
    "node",
    "name",
    "display_name",
    "legal_shape",
    "founder",
    "territory",
    "summary",
    "categories",
    "sharing_rule",
    "contribution_rate",
)
COLLEGE_COLUMNS = ("group", "name", "weight")
MEMBER_COLUMNS = ("group", "username", "role", "category", "capital", "college", "offers")


@dataclass(frozen=True)
class DemoMember:
    username: str
    role: str
    category: str
    capital: str
    college: str
    offers: tuple[str, ...]


@dataclass(frozen=True)
class DemoGroup:
    node: str
    name: str
    display_name: str
    legal_shape: str
    founder: str
    territory: str
    summary: str
    categories: tuple[str, ...]
    sharing_rule: str
    contribution_rate: str
    colleges: tuple[tuple[str, str], ...] = ()
    members: tuple[DemoMember, ...] = ()


def load_groups(people: dict[str, set[str]], folder: Traversable | Path | None = None) -> list[DemoGroup]:
    """The demo's groups with their colleges and members; ``people`` gives each node's usernames."""
    where = data_folder() if folder is None else folder
    groups: dict[str, DemoGroup] = {}
    for row in read_table(where, "groups.toml", "group", GROUP_COLUMNS):
        node = row.text("node")
        row.check(node in people, "node", f"no node {node!r} in nodes.toml")
        name = row.text("name")
        row.check(name not in groups, "name", "a group of this name is listed above")
        shape = row.text("legal_shape")
        row.check(shape in {s.value for s in legal.Shape}, "legal_shape", "unknown legal shape")
        founder = row.text("founder")
        row.check(founder in people[node], "founder", f"no person {founder!r} on {node}")
        rule = row.text("sharing_rule", SharingRule.COORDINATOR.value)
        row.check(rule in {r.value for r in SharingRule}, "sharing_rule", "unknown sharing rule")
        groups[name] = DemoGroup(
            node=node,
            name=name,
            display_name=row.text("display_name"),
            legal_shape=shape,
            founder=founder,
            territory=row.text("territory", ""),
            summary=row.text("summary", ""),
            categories=row.texts("categories") if row.has("categories") else (),
            sharing_rule=rule,
            contribution_rate=row.text("contribution_rate", "0"),
        )
    colleges: dict[str, list[tuple[str, str]]] = {name: [] for name in groups}
    for row in read_table(where, "group_colleges.toml", "college", COLLEGE_COLUMNS):
        group = row.text("group")
        row.check(group in groups, "group", f"no group {group!r} in groups.toml")
        colleges[group].append((row.text("name"), row.text("weight")))
    members: dict[str, list[DemoMember]] = {name: [] for name in groups}
    for row in read_table(where, "group_members.toml", "member", MEMBER_COLUMNS):
        group = row.text("group")
        row.check(group in groups, "group", f"no group {group!r} in groups.toml")
        username = row.text("username")
        row.check(
            username in people[groups[group].node], "username", f"no person {username!r} on the group's node"
        )
        college = row.text("college", "")
        row.check(not college or college in dict(colleges[group]), "college", f"no college {college!r}")
        members[group].append(
            DemoMember(
                username=username,
                role=row.text("role", "member"),
                category=row.text("category", ""),
                capital=row.text("capital", "0"),
                college=college,
                offers=row.texts("offers") if row.has("offers") else (),
            )
        )
    return [
        DemoGroup(**{**vars(g), "colleges": tuple(colleges[n]), "members": tuple(members[n])})
        for n, g in groups.items()
    ]


def seed_group(settings: Settings, group: DemoGroup, *, session: Session) -> bool:
    """Create ``group`` on its node with its colleges, members and rules; False when it exists already."""
    if records.name_taken(group.name, session=session):
        return False
    founder = records.user_by_username(group.founder, session=session)
    if founder is None:
        raise DemoDataError(f"groups.toml: founder {group.founder!r} is not an account of {group.node}")
    row = group_profile.create_group(
        settings,
        founder,
        group_profile.GroupInput(
            name=group.name,
            display_name=group.display_name,
            summary=group.summary,
            territory=group.territory,
            legal_shape=group.legal_shape,
            categories=list(group.categories),
        ),
        session=session,
    )
    group_profile.update_rules(
        settings,
        founder,
        row,
        group_profile.RulesInput(sharing_rule=group.sharing_rule, contribution_rate=group.contribution_rate),
        session=session,
    )
    college_ids = {
        name: associates.add_college(settings, founder, row, name, weight, session=session).id
        for name, weight in group.colleges
    }
    for member in group.members:
        user: User | None = records.user_by_username(member.username, session=session)
        assert user is not None
        membership = records.member_of_user(row, user, session=session)
        if membership is None:
            service.invite(settings, founder, row, service.person_uri(settings, user), session=session)
            membership = service.answer_invitation(settings, user, row, accept=True, session=session)
        assert membership.id is not None and membership.state == MembershipState.ACTIVE.value
        if member.role == "coordinator":
            service.set_role(settings, founder, row, membership.id, "coordinator", session=session)
        associates.set_associate(
            settings,
            founder,
            row,
            membership.id,
            associates.AssociateInput(
                category=member.category,
                capital_percent=member.capital,
                college_id=college_ids.get(member.college),
                associate=bool(member.category),
                offers=list(member.offers),
            ),
            session=session,
        )
    return True


def seed_groups(settings: Settings, groups: Sequence[DemoGroup], node: str, *, session: Session) -> int:
    """Seed the groups of ``node``; how many were created."""
    return sum(seed_group(settings, group, session=session) for group in groups if group.node == node)
