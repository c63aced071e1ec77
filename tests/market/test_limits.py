"""The abuse limits where the marketplace and the social graph call them: answers per proposal and per
person, follows per person; a refused action stores nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from node.activitypub.actors import local
from node.activitypub.models import Follow
from node.activitypub.social import follows
from node.core import db
from node.core.errors import Throttled
from node.market.bids import service as bids
from node.market.models import Bid
from node.settings import Settings
from tests.support.market import make_proposal, person


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_answers_per_proposal_and_per_person(engine: Engine, settings: Settings) -> None:
    settings = settings.replace(limit_bids_per_proposal_day=2, limit_bids_per_person_day=2)
    author = person(engine, "alice")
    bidders = [person(engine, name) for name in ("bob", "carol", "dora")]
    with Session(engine, expire_on_commit=False) as session:
        demand = make_proposal(session, settings, author)
        other = make_proposal(session, settings, author)
        another = make_proposal(session, settings, author)
    for bidder in bidders[:2]:
        with db.session_scope(engine) as session:
            bids.place_bid(settings, bidder, demand, bids.BidInput(), session=session)
    with pytest.raises(Throttled, match="received too many answers"), db.session_scope(engine) as session:
        bids.place_bid(settings, bidders[2], demand, bids.BidInput(), session=session)
    assert count(engine, Bid) == 2
    with db.session_scope(engine) as session:
        bids.place_bid(settings, bidders[0], other, bids.BidInput(), session=session)
    with pytest.raises(Throttled, match="answered too many proposals"), db.session_scope(engine) as session:
        bids.place_bid(settings, bidders[0], another, bids.BidInput(), session=session)
    assert count(engine, Bid) == 3


def test_follows_per_person(engine: Engine, settings: Settings) -> None:
    settings = settings.replace(limit_follows_per_person_day=1)
    amina, bilal, chloe = (person(engine, name) for name in ("amina", "bilal", "chloe"))
    with db.session_scope(engine) as session:
        follows.follow(
            settings,
            follower=local.person(settings, amina),
            target=local.person(settings, bilal),
            session=session,
        )
    with pytest.raises(Throttled) as refused, db.session_scope(engine) as session:
        follows.follow(
            settings,
            follower=local.person(settings, amina),
            target=local.person(settings, chloe),
            session=session,
        )
    assert refused.value.retry_after > 0
    assert count(engine, Follow) == 1
    with db.session_scope(engine) as session:  # the node itself is not limited
        follows.follow(
            settings,
            follower=local.node_actor(settings),
            target=local.person(settings, chloe),
            session=session,
        )
