"""The summary of a group's constitution: who its associates are (by category, with capital shares,
colleges, bureau roles), its colleges and their weights, its rules, and where it stands against the
legal shape it aims at. One JSON-ready document, printed by the constitution page and served as JSON."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from node.groups import associates, legal, records, service
from node.groups import rules as group_rules
from node.groups.models import Group
from node.settings import Settings


def summary(
    settings: Settings, group: Group, *, session: Session, shape: str | None = None, today: date | None = None
) -> dict[str, Any]:
    """The constitution of ``group`` (checked against ``shape``, by default the one it aims at)."""
    colleges = records.colleges(group, session=session)
    college_names = {c.id: c.name for c in colleges}
    members = records.members(group, session=session)
    by_category: dict[str, list[dict[str, Any]]] = {}
    for row in members:
        by_category.setdefault(row.category or "", []).append(
            {
                "id": row.member_uri,
                "name": row.name or row.member_uri,
                "role": row.role,
                "capital_percent": f"{row.capital_percent.normalize():f}",
                "college": college_names.get(row.college_id) if row.college_id else None,
                "associate": row.associate,
                "bureau_role": row.bureau_role or None,
            }
        )
    wanted = legal.Shape(shape or group.legal_shape)
    checks = legal.checklist(wanted, associates.snapshot(group, session=session, today=today))
    brackets = group_rules.brackets_from_json(group.contribution_brackets)
    return {
        "group": service.actor_of(settings, group).uri,
        "name": group.display_name,
        "legal_shape": wanted.value,
        "territory": group.territory,
        "categories": records.json_list(group.categories),
        "members": len(members),
        "associates_by_category": by_category,
        "capital_percent_total": f"{sum((m.capital_percent for m in members), Decimal('0')).normalize():f}",
        "colleges": [{"name": c.name, "weight_percent": f"{c.weight.normalize():f}"} for c in colleges],
        "rules": {
            "sharing": group.sharing_rule,
            "contribution_rate_percent": f"{group.contribution_rate.normalize():f}",
            "contribution_brackets": [
                {"from": f"{b.start.normalize():f}", "rate_percent": f"{b.rate.normalize():f}"}
                for b in brackets
            ],
            "members_see": group.members_see,
            "text": group.rules_text,
        },
        "checks": [
            {
                "rule": c.rule,
                "label": legal.label_text(c),
                "article": c.article,
                "source": c.url,
                "ok": c.ok,
                "missing": None if c.ok else legal.missing_text(c),
                "advice": c.advice,
                "article_verified": c.verified,
            }
            for c in checks
        ],
        "complete": legal.complete(checks),
    }
