"""A group's coordinators of this node hear of a new answer to the group's offer, of the group's answer
declined, of its new agreement, of its cancellation by the other party (not of their own acts), and of a
member leaving, here or from another node; each once, whoever runs the job and however often; ordinary
members hear nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core import db
from node.core.timeutil import utcnow
from node.groups import records, service, watch
from node.groups import work as group_work
from node.groups.models import Member
from node.market.agreements import service as agreements
from node.market.bids import service as bids
from node.market.models import Agreement, Bid, Notification
from node.settings import Settings
from tests.support.groups import REMOTE_MEMBER, make_group
from tests.support.market import make_proposal, person


def kinds_of(engine: Engine, user: User) -> list[str]:
    with Session(engine) as s:
        rows = s.exec(
            select(Notification.kind)
            .where(col(Notification.user_id) == user.id)
            .order_by(col(Notification.id))
        ).all()
    return [k for k in rows if k.startswith(("group_", "agreement_", "bid_"))]


def tell(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    with db.session_scope(engine) as s:
        return watch.tell_coordinators(settings, session=s, now=now)


def test_coordinators_hear_of_their_groups_work_and_members_leaving(
    engine: Engine, settings: Settings
) -> None:
    amina, carl, bilal, dora = (person(engine, n) for n in ("amina", "carl", "bilal", "dora"))
    make_group(engine, settings, amina, joining=(carl, bilal))
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        carl_row = records.member_of_user(group, carl, session=s)
        assert carl_row is not None and carl_row.id is not None
        service.set_role(settings, amina, group, carl_row.id, "coordinator", session=s)
        offer = make_proposal(s, settings, amina, purpose="offer")
        offer.author_uri, offer.local_author_id = service.actor_of(settings, group).uri, None
        s.add(offer)
    assert tell(engine, settings) == 0

    with db.session_scope(engine) as s:
        fresh_offer = s.get(type(offer), offer.id)
        assert fresh_offer is not None
        bid = bids.place_bid(settings, dora, fresh_offer, bids.BidInput(message="Bonjour"), session=s)
    assert tell(engine, settings) == 2  # amina and carl
    assert tell(engine, settings) == 0  # told once
    assert kinds_of(engine, amina)[-1] == "group_bid" and kinds_of(engine, carl)[-1] == "group_bid"
    assert "group_bid" not in kinds_of(engine, bilal)

    with db.session_scope(engine) as s:
        fresh_bid = s.get(Bid, bid.id)
        assert fresh_bid is not None
        group = service.group_named("coop", session=s)
        agreement = group_work.decide_bid(settings, amina, group, fresh_bid.id or 0, accept=True, session=s)
        assert isinstance(agreement, Agreement)
    assert tell(engine, settings) == 2
    assert kinds_of(engine, carl)[-1] == "group_agreement"

    # The group's answer to Dora's demand, declined by her: the coordinators hear of it.
    with db.session_scope(engine) as s:
        demand = make_proposal(s, settings, dora)
        ours = group_work.answer(
            settings, amina, service.group_named("coop", session=s), demand, bids.BidInput(), session=s
        )
    with db.session_scope(engine) as s:
        declined = s.get(Bid, ours.id)
        assert declined is not None
        bids.reject_bid(settings, dora, declined, "Déjà trouvé", session=s)
    assert tell(engine, settings) == 2
    assert kinds_of(engine, amina)[-1] == "bid_rejected" and kinds_of(engine, carl)[-1] == "bid_rejected"

    # The other party cancels: the coordinators hear of it; nothing of their own acts.
    with db.session_scope(engine) as s:
        fresh = s.get(Agreement, agreement.id)
        assert fresh is not None
        agreements.cancel(settings, dora, fresh, "Empêchée", session=s)
    assert tell(engine, settings) == 2
    assert kinds_of(engine, amina)[-1] == "agreement_cancelled"
    assert tell(engine, settings) == 0
    # Past the window, old news is not looked at again.
    assert tell(engine, settings, now=utcnow() + watch.WINDOW + timedelta(minutes=1)) == 0

    # A member leaves (here, then one of another node): the coordinators are told at once.
    with db.session_scope(engine) as s:
        service.leave(settings, bilal, service.group_named("coop", session=s), session=s)
    assert (
        kinds_of(engine, amina)[-1] == "group_member_left"
        and kinds_of(engine, carl)[-1] == "group_member_left"
    )
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        service.receive_join(
            settings,
            group,
            REMOTE_MEMBER,
            "Rita",
            "https://bagnolet.test/a/1",
            "",
            session=s,
        )
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        assert service.receive_leave(settings, group, REMOTE_MEMBER, session=s)
        assert not service.receive_leave(settings, group, REMOTE_MEMBER, session=s)
    assert kinds_of(engine, amina).count("group_member_left") == 2
    with Session(engine) as s:
        rita = s.exec(select(Member).where(col(Member.member_uri) == REMOTE_MEMBER)).one()
    assert rita.state == "left"
    assert "group_member_left" not in kinds_of(engine, bilal)


def test_coordinators_hear_of_an_answer_to_the_groups_invitation(engine: Engine, settings: Settings) -> None:
    amina, eva, fred = (person(engine, n) for n in ("amina", "eva", "fred"))
    make_group(engine, settings, amina)
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        service.invite(settings, amina, group, settings.url("/users/eva"), session=s)
        service.invite(settings, amina, group, settings.url("/users/fred"), session=s)
    assert "group_invitation_answered" not in kinds_of(engine, amina)
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        service.answer_invitation(settings, eva, group, accept=True, session=s)
        service.answer_invitation(settings, fred, group, accept=False, session=s)
    assert kinds_of(engine, amina).count("group_invitation_answered") == 2
    with Session(engine) as s:
        told = s.exec(
            select(Notification.data).where(
                col(Notification.user_id) == amina.id, col(Notification.kind) == "group_invitation_answered"
            )
        ).all()
    assert sorted(json.loads(d)["state"] for d in told) == ["active", "declined"]
    assert "group_invitation_answered" not in kinds_of(engine, eva)
