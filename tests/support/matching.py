"""People and proposals for matching tests: providers with a status, a commune, categories and a radius,
and proposals of this node's people, stored as the services store them."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from node.accounts.models import User, UserCategory
from node.activitypub.actors import local
from node.core import db
from node.market.models import Proposal
from node.search.matching.models import MatchSettings
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.search import indexed


def provider(
    engine: Engine,
    username: str,
    *,
    categories: tuple[str, ...] = (),
    insee: str = "93048",
    status: str = "self_employed",
    radius_km: int | None = None,
    alerts: bool = True,
    bio: str = "",
) -> User:
    """An active person of this node who offers ``categories`` from ``insee``, alerts on by default."""
    user = make_user(engine, username)
    with db.session_scope(engine, write=True) as session:
        row = session.get(User, user.pk)
        assert row is not None
        row.offers_services = status != "none"
        row.provider_status = status
        row.commune_insee = insee
        row.bio = bio
        session.add(row)
        for category in categories:
            session.add(UserCategory(user_id=user.pk, category=category))
        session.add(MatchSettings(user_id=user.pk, radius_km=radius_km, alerts=alerts))
    with Session(engine) as session:
        found = session.get(User, user.pk)
        assert found is not None
        return found


def proposal_of(
    engine: Engine,
    settings: Settings,
    user: User,
    title: str,
    *,
    purpose: str = "request",
    description: str = "",
    category: str | None = None,
    insee: str = "93048",
) -> Proposal:
    """An open proposal of ``user`` (a person of this node)."""
    with Session(engine) as session:
        row = indexed(
            session,
            settings,
            title,
            purpose=purpose,
            description=description,
            category=category,
            insee=insee,
            author_uri=local.person(settings, user).uri,
        )
        row.local_author_id = user.pk
        session.add(row)
        session.commit()
        session.refresh(row)
        return row
