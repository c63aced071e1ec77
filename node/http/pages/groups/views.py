"""What the group pages show, loaded in one transaction: the group, the viewer's membership, the members
with their names, the legal checklist, and formatted figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from node.accounts import people
from node.accounts.models import User
from node.groups import associates, legal, records, service
from node.groups.models import Group, Member
from node.http.pages.market.evaluations import ReputationView
from node.market.evaluations import service as evaluations
from node.market.money import format_amount, format_hours
from node.settings import Settings

CURRENCY_SUFFIX = {"EUR": "\u00a0€", "HOUR": "\u00a0h"}


@dataclass(frozen=True)
class Viewer:
    """The person looking, and their place in the group."""

    user: User | None
    membership: Member | None

    @property
    def member(self) -> bool:
        return self.membership is not None and self.membership.state == "active"

    @property
    def coordinator(self) -> bool:
        return self.member and self.membership is not None and self.membership.role in records.COORDINATING

    @property
    def state(self) -> str:
        return self.membership.state if self.membership is not None else ""


def viewer_of(group: Group, user: User | None, *, session: Session) -> Viewer:
    return Viewer(user, records.member_of_user(group, user, session=session) if user else None)


def check_view(check: legal.Check) -> dict[str, Any]:
    return {"check": check, "missing": check.missing, "values": check.values}


def checklist_context(group: Group, *, session: Session, shape: str | None = None) -> dict[str, Any]:
    checks = associates.checklist(group, session=session, shape=shape)
    return {"checks": checks, "complete": legal.complete(checks)}


def member_lines(
    settings: Settings, group: Group, members: list[Member], *, session: Session
) -> list[dict[str, Any]]:
    described = people.describe(settings, [m.member_uri for m in members], session=session)
    colleges = {c.id: c.name for c in records.colleges(group, session=session)}
    lines = []
    for m in members:
        who = described[m.member_uri]
        lines.append(
            {
                "row": m,
                "name": m.name or who.label,
                "handle": who.handle,
                "url": who.url,
                "college": colleges.get(m.college_id) if m.college_id else "",
                "offers": records.json_list(m.offers),
                "contract_items": set(records.contract_items(m)),
            }
        )
    return lines


def reputation_of(settings: Settings, group: Group, *, session: Session) -> ReputationView:
    uri = service.actor_of(settings, group).uri
    return ReputationView(evaluations.reputation_of(uri, session=session))


def amounts_text(amounts: dict[str, Decimal], lang: str) -> str:
    return (
        ", ".join(
            f"{format_amount(v, lang)}{CURRENCY_SUFFIX.get(c, ' ' + c)}" for c, v in sorted(amounts.items())
        )
        or "–"
    )


def hours_text(hours: Decimal, lang: str) -> str:
    return format_hours(hours, lang)
