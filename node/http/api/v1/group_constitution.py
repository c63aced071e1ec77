"""API operations on a group's constitution: its voting colleges, the legal checklist of the shape it
aims at, and the summary of its constitution."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.groups import associates, constitution, legal, service
from node.http.api.framework import Operation, operation
from node.http.api.schemas import DecimalText, Strict, text
from node.http.api.v1.groups import TAG, member_of, name_of
from node.http.runtime import node_of, run


class CollegeIn(Strict):
    name: str = text(1, 80)
    weight: Annotated[Decimal, DecimalText.between(legal.COLLEGE_MIN, legal.COLLEGE_MAX)] = Field(
        description="Share of the votes, % (loi n° 47-1775 art. 19 octies)"
    )


class CheckOut(BaseModel):
    rule: str
    label: str
    article: str
    source: str
    ok: bool
    missing: str | None
    advice: bool
    article_verified: bool


@operation(
    "POST",
    "/groups/{name}/colleges",
    summary="Add a voting college (coordinators; 10–50 % of the votes)",
    tag=TAG,
    body=CollegeIn,
    status=201,
    errors=(403, 409, 422),
)
async def add_college(request: Request, caller: User, body: CollegeIn) -> dict[str, Any]:
    settings = node_of(request).settings

    def save(session: Session) -> dict[str, Any]:
        row = associates.add_college(
            settings,
            caller,
            service.group_named(name_of(request), session=session),
            body.name,
            str(body.weight),
            session=session,
        )
        return {"id": row.id, "name": row.name, "weight": str(row.weight)}

    return await run(request, save)


@operation(
    "GET",
    "/groups/{name}/checklist",
    summary="The legal shape's rules checked against the members (members only)",
    tag=TAG,
    response=CheckOut,
    list_response=True,
    errors=(403, 404),
    query={"shape": {"type": "string", "enum": [s.value for s in legal.Shape]}},
)
async def checklist(request: Request, caller: User, _body: None) -> list[CheckOut]:
    wanted = request.query_params.get("shape") or None

    def load(session: Session) -> list[CheckOut]:
        group = service.group_named(name_of(request), session=session)
        member_of(group, caller, session=session)
        try:
            shape = legal.Shape(wanted).value if wanted else None
        except ValueError:
            shape = None
        return [
            CheckOut(
                rule=c.rule,
                label=legal.label_text(c),
                article=c.article,
                source=c.url,
                ok=c.ok,
                missing=None if c.ok else legal.missing_text(c),
                advice=c.advice,
                article_verified=c.verified,
            )
            for c in associates.checklist(group, session=session, shape=shape)
        ]

    return await run(request, load)


@operation(
    "GET",
    "/groups/{name}/constitution",
    summary="The summary of the group's constitution (members only)",
    tag=TAG,
    errors=(403, 404),
)
async def get_constitution(request: Request, caller: User, _body: None) -> dict[str, Any]:
    settings = node_of(request).settings

    def load(session: Session) -> dict[str, Any]:
        group = service.group_named(name_of(request), session=session)
        member_of(group, caller, session=session)
        return constitution.summary(settings, group, session=session)

    return await run(request, load)


def operations() -> list[Operation]:
    return [
        add_college,
        checklist,
        get_constitution,
    ]
