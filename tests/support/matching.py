"""People and proposals for matching tests: providers with a status, a commune, categories and a radius,
and proposals of this node's people, stored as the services store them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from node.accounts.models import User, UserCategory
from node.accounts.passwords import hash_password
from node.activitypub.actors import local
from node.core import db
from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.market.proposals.columns import commune_columns, content_columns
from node.places.gazetteer import default_gazetteer
from node.search.matching.models import MatchSettings
from node.settings import Settings
from tests.support.accounts import PASSWORD, make_user
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


def unsaved_proposal(
    settings: Settings,
    title: str,
    *,
    author_uri: str,
    purpose: str,
    description: str,
    category: str,
    insee: str,
    origin: str = "",
    local_author_id: int | None = None,
) -> Proposal:
    """An open proposal with the services' columns, not yet added to a session (to store many at once)."""
    commune = default_gazetteer().by_insee(insee)
    assert commune is not None, insee
    values = content_columns(
        title=title,
        description=description,
        category=category,
        place=commune_columns(commune),
        schedule=None,
        quantity=None,
        price=None,
        currency=None,
        basis=None,
        bidding_deadline=None,
        expires_at=utcnow() + timedelta(days=60),
        author_name="",
    )
    base = f"https://{origin}" if origin else settings.url("").rstrip("/")
    return Proposal(
        ap_id=f"{base}/proposals/{uuid.uuid4()}",
        origin=origin,
        author_uri=author_uri,
        local_author_id=local_author_id,
        purpose=purpose,
        **values,
    )


def many_providers(session: Session, settings: Settings, people: list[dict[str, Any]]) -> dict[str, User]:
    """Providers of a corpus (username, insee, status, radius_km, bio, categories, offer), each with their
    offer, added to ``session`` (one password hash shared: logging in is not what these tests do)."""
    password_hash = hash_password(PASSWORD)
    found: dict[str, User] = {}
    for person in people:
        user = User(
            username=person["username"],
            password_hash=password_hash,
            offers_services=True,
            provider_status=person["status"],
            commune_insee=person["insee"],
            bio=person["bio"],
        )
        session.add(user)
        session.flush()
        for category in person["categories"]:
            session.add(UserCategory(user_id=user.pk, category=category))
        session.add(MatchSettings(user_id=user.pk, radius_km=person["radius_km"], alerts=True))
        offer = person["offer"]
        session.add(
            unsaved_proposal(
                settings,
                offer["title"],
                author_uri=local.person(settings, user).uri,
                purpose="offer",
                description=offer["description"],
                category=offer["category"],
                insee=person["insee"],
                local_author_id=user.pk,
            )
        )
        found[user.username] = user
    return found


def corpus_demand(settings: Settings, demand: dict[str, Any], *, origin: str = "b.example") -> Proposal:
    """A demand of the labelled corpus as received from ``origin``, not yet added to a session."""
    return unsaved_proposal(
        settings,
        demand["title"],
        author_uri=f"https://{origin}/users/{demand['key']}",
        purpose="request",
        description=demand["description"],
        category=demand["category"],
        insee=demand["insee"],
        origin=origin,
    )
