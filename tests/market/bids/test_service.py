"""Bids: placing (with the proposal's values by default), the refusals (own proposal, closed, past the
deadline, second bid, provider status, absurd input), withdrawing, accepting (the agreement, the
demand closed, the others declined) and rejecting, sealed visibility, expiry — and what each sends."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.models import Delivery, OutboxActivity
from node.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.timeutil import utcnow
from node.market import vocab
from node.market.agreements import documents as agreement_documents
from node.market.bids import service as bids
from node.market.bids import views as bid_views
from node.market.bids.service import BidInput
from node.market.models import Agreement, AgreementEvent, Bid, Evaluation, Notification, Proposal
from node.market.money import Price
from node.settings import Settings
from tests.support.market import BAGNOLET, MONTREUIL, make_proposal, person, window

REMOTE_AUTHOR = "https://bagnolet.example/users/zoe"
REMOTE_BIDDER = "https://bagnolet.example/users/bob"


def outbox(session: Session) -> list[dict[str, Any]]:
    return [
        json.loads(row.payload)
        for row in session.exec(select(OutboxActivity).order_by(col(OutboxActivity.id)))
    ]


def targets(session: Session, activity_id: str) -> list[str]:
    row = session.exec(select(OutboxActivity).where(OutboxActivity.activity_id == activity_id)).one()
    return [d.target for d in session.exec(select(Delivery).where(Delivery.outbox_id == row.id))]


def notifications(session: Session, user_id: int) -> list[str]:
    return [n.kind for n in session.exec(select(Notification).where(Notification.user_id == user_id))]


def remote_bid(
    session: Session,
    proposal: Proposal,
    bidder: str = REMOTE_BIDDER,
    amount: str = "18",
    raw: str | None = None,
) -> Bid:
    """A bid another node sent (as the inbox handler stores it, with the ``raw`` Offer)."""
    assert proposal.id is not None
    row = Bid(
        ap_id=bidder.split("/users/")[0] + f"/activities/{amount}-{proposal.id}",
        proposal_id=proposal.id,
        bidder_uri=bidder,
        origin=addressing.domain_of(bidder),
        price_amount=Decimal(amount),
        price_currency="EUR",
        price_basis="per_hour",
        quantity_hours=Decimal(2),
        raw=raw,
    )
    session.add(row)
    session.commit()
    return row


# --- placing --------------------------------------------------------------------------------------------


def test_bid_on_a_local_demand_notifies_its_author_and_sends_nothing(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    demand = make_proposal(session, settings, alice)
    bid = bids.place_bid(
        settings, bob, demand, BidInput(amount="18,50", message="Disponible <b>mardi</b>"), session=session
    )
    session.commit()
    assert bid.state == "active" and bid.local_bidder_id == bob.id
    assert (bid.price_amount, bid.price_currency, bid.price_basis) == (Decimal("18.50"), "EUR", "per_hour")
    assert bid.quantity_hours == Decimal(2)  # the demand's
    assert bid.schedule == demand.schedule
    assert bid.message == "Disponible mardi"
    assert notifications(session, alice.pk) == ["bid_received"]
    assert outbox(session) == []


def test_bid_on_a_remote_proposal_is_an_offer_to_its_author_only(
    session: Session, settings: Settings, engine: Engine
) -> None:
    bob = person(engine, "bob")
    proposal = make_proposal(session, settings, author_uri=REMOTE_AUTHOR)
    slot = window(days=3, hours=3)
    bid = bids.place_bid(
        settings,
        bob,
        proposal,
        BidInput(amount="17.25", hours="3", schedule=slot, message="Bonjour"),
        session=session,
    )
    session.commit()
    [sent] = outbox(session)
    assert sent["type"] == "Offer" and sent["id"] == bid.ap_id
    assert sent["to"] == [REMOTE_AUTHOR] and "cc" not in sent
    assert sent["location"] == {"type": "Place", "inseeCode": MONTREUIL}  # the commune only
    assert targets(session, bid.ap_id) == [REMOTE_AUTHOR]
    assert not session.exec(select(OutboxActivity)).one().public
    offer = vocab.offer_from_json(sent)
    assert offer.agreement.primary_intent == proposal.ap_id + "#primary"
    assert offer.agreement.reciprocal_intent == proposal.ap_id + "#reciprocal"
    assert offer.agreement.price == Price(Decimal("17.25"), "EUR", "per_hour")
    assert offer.agreement.quantity == Decimal(3) and offer.agreement.schedule == slot
    reciprocal = sent["object"]["stipulatesReciprocal"]
    assert reciprocal["resourceQuantity"]["hasNumericalValue"] == "51.75"  # 3 h × 17.25, the FEP's total


def test_an_offer_without_a_price_in_the_answer_takes_the_proposal_price(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob", status="none")
    offer = make_proposal(session, settings, alice, purpose="offer", amount=Decimal("22"))
    bid = bids.place_bid(settings, bob, offer, BidInput(), session=session)
    assert (bid.price_amount, bid.price_basis) == (Decimal("22"), "per_hour")


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"state": "closed"}, Conflict, bids.MSG_NOT_OPEN),
        ({"state": "withdrawn"}, Conflict, bids.MSG_NOT_OPEN),
        ({"deadline": utcnow() - timedelta(minutes=1)}, Conflict, bids.MSG_DEADLINE_PASSED),
        ({"category": "elderly-disabled-assistance"}, PermissionDenied, bids.MSG_NOT_ELIGIBLE),
    ],
)
def test_refused_bids_store_nothing(
    session: Session,
    settings: Settings,
    engine: Engine,
    change: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob", status="volunteer")
    demand = make_proposal(session, settings, alice, **change)
    with pytest.raises(error) as caught:
        bids.place_bid(settings, bob, demand, BidInput(amount="18"), session=session)
    assert str(caught.value) == message
    session.rollback()
    assert session.exec(select(Bid)).all() == []


def test_own_second_and_statusless_bids_are_refused(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob, carol = person(engine, "alice"), person(engine, "bob"), person(engine, "carol", status="none")
    demand = make_proposal(session, settings, alice)
    with pytest.raises(PermissionDenied, match="your own"):
        bids.place_bid(settings, alice, demand, BidInput(amount="18"), session=session)
    with pytest.raises(PermissionDenied):  # no provider status: answers no demand
        bids.place_bid(settings, carol, demand, BidInput(amount="18"), session=session)
    bids.place_bid(settings, bob, demand, BidInput(amount="18"), session=session)
    session.commit()
    with pytest.raises(Conflict, match="already answered"):
        bids.place_bid(settings, bob, demand, BidInput(amount="17"), session=session)
    assert len(session.exec(select(Bid)).all()) == 1


def test_the_database_backs_up_one_active_bid_per_person(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice = person(engine, "alice")
    demand = make_proposal(session, settings, alice)
    remote_bid(session, demand, amount="18")
    with pytest.raises(IntegrityError):
        remote_bid(session, demand, amount="17")
    session.rollback()
    first = session.exec(select(Bid)).one()
    first.state = "withdrawn"
    session.commit()
    remote_bid(session, demand, amount="17")  # a withdrawn bid does not count


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (BidInput(amount="600"), {"amount"}),
        (BidInput(amount="18,123"), {"amount"}),
        (BidInput(amount="-5"), {"amount"}),
        (BidInput(amount="beaucoup"), {"amount"}),
        (BidInput(amount="18", hours="900"), {"hours"}),
        (BidInput(amount="500", hours="500"), {"amount"}),  # 250,000 € in total
        (BidInput(amount="18", message="x" * 1001), {"message"}),
        (BidInput(amount="18", schedule=window(days=-2)), {"start"}),
        (BidInput(amount="600", hours="0", message="y" * 2000), {"amount", "hours", "message"}),
    ],
)
def test_absurd_bids_are_refused_naming_the_fields(
    session: Session, settings: Settings, engine: Engine, data: BidInput, fields: set[str]
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    demand = make_proposal(session, settings, alice)
    with pytest.raises(ValidationFailed) as caught:
        bids.place_bid(settings, bob, demand, data, session=session)
    assert set(caught.value.fields) == fields
    session.rollback()
    assert session.exec(select(Bid)).all() == []


def test_prices_follow_what_the_proposal_is_paid_in(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    free = make_proposal(session, settings, alice, amount=None, currency=None)
    with pytest.raises(ValidationFailed) as caught:
        bids.place_bid(settings, bob, free, BidInput(amount="10"), session=session)
    assert caught.value.fields == {"amount": bids.MSG_FREE_SERVICE}
    assert bids.place_bid(settings, bob, free, BidInput(), session=session).price_amount is None
    open_budget = make_proposal(session, settings, alice, amount=None)
    with pytest.raises(ValidationFailed) as caught:
        bids.place_bid(settings, bob, open_budget, BidInput(), session=session)
    assert caught.value.fields == {"amount": bids.MSG_PRICE_REQUIRED}
    tokens = make_proposal(session, settings, alice, amount=Decimal(1), currency="HOUR")
    bid = bids.place_bid(settings, bob, tokens, BidInput(amount="1,5", basis="total"), session=session)
    assert (bid.price_currency, bid.price_basis, bid.price_amount) == ("HOUR", "total", Decimal("1.5"))


# --- withdrawing, accepting, rejecting -------------------------------------------------------------------


def test_withdrawing(session: Session, settings: Settings, engine: Engine) -> None:
    alice, bob, carol = person(engine, "alice"), person(engine, "bob"), person(engine, "carol")
    demand = make_proposal(session, settings, alice)
    bid = bids.place_bid(settings, bob, demand, BidInput(amount="18"), session=session)
    with pytest.raises(NotFound):
        bids.withdraw_bid(settings, carol, bid, session=session)
    bids.withdraw_bid(settings, bob, bid, session=session)
    session.commit()
    assert bid.state == "withdrawn" and notifications(session, alice.pk) == ["bid_received", "bid_withdrawn"]
    with pytest.raises(Conflict):
        bids.withdraw_bid(settings, bob, bid, session=session)
    remote = make_proposal(session, settings, author_uri=REMOTE_AUTHOR)
    other = bids.place_bid(settings, bob, remote, BidInput(amount="18"), session=session)
    bids.withdraw_bid(settings, bob, other, session=session)
    session.commit()
    undo = outbox(session)[-1]
    assert undo["type"] == "Undo" and undo["to"] == [REMOTE_AUTHOR]
    assert vocab.withdrawal_from_json(undo).offer_id == other.ap_id


def test_accepting_a_bid_on_a_demand(session: Session, settings: Settings, engine: Engine) -> None:
    alice, bob, carol = person(engine, "alice"), person(engine, "bob"), person(engine, "carol")
    demand = make_proposal(session, settings, alice)
    chosen = bids.place_bid(settings, bob, demand, BidInput(amount="19"), session=session)
    cheaper = bids.place_bid(settings, carol, demand, BidInput(amount="15"), session=session)
    far = remote_bid(session, demand, amount="12")
    session.commit()
    with pytest.raises(NotFound):
        bids.accept_bid(settings, bob, chosen, session=session)  # not the author
    agreement = bids.accept_bid(settings, alice, chosen, session=session)
    session.commit()
    alice_uri, bob_uri = local.person(settings, alice).uri, local.person(settings, bob).uri
    assert (agreement.provider_uri, agreement.requester_uri) == (bob_uri, alice_uri)
    assert (agreement.local_provider_id, agreement.local_requester_id) == (bob.id, alice.id)
    assert agreement.ap_id.startswith(settings.url("/agreements/")) and agreement.origin == ""
    assert (agreement.price_amount, agreement.quantity_hours) == (Decimal(19), Decimal(2))
    assert agreement.starts_at == demand.starts_at and agreement.state == "accepted"
    assert [e.kind for e in session.exec(select(AgreementEvent))] == ["accepted"]
    assert (chosen.state, cheaper.state, far.state) == ("accepted", "rejected", "rejected")
    assert cheaper.reject_reason == bids.MSG_OTHER_CHOSEN
    session.refresh(demand)
    assert demand.state == "closed" and demand.closed_at is not None
    assert notifications(session, bob.pk)[-1] == "bid_accepted"
    assert notifications(session, carol.pk)[-1] == "bid_rejected"
    sent = {a["type"]: a for a in outbox(session)}
    assert sent["Reject"]["to"] == [REMOTE_BIDDER] and sent["Reject"]["object"] == far.ap_id
    assert vocab.reject_from_json(sent["Reject"]).reason == bids.MSG_OTHER_CHOSEN
    assert sent["Update"]["object"]["proposalState"] == "closed"
    snapshot = agreement_documents.read_agreement(json.loads(agreement.raw or "{}"))
    assert (snapshot.provider, snapshot.receiver, snapshot.author) == (bob_uri, alice_uri, alice_uri)
    with pytest.raises(Conflict):
        bids.accept_bid(settings, alice, cheaper, session=session)


def test_accepting_a_remote_bid_sends_the_agreement(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice = person(engine, "alice")
    demand = make_proposal(session, settings, alice)
    bid = remote_bid(session, demand, amount="18")
    agreement = bids.accept_bid(settings, alice, bid, session=session)
    session.commit()
    accept = next(a for a in outbox(session) if a["type"] == "Accept")
    assert accept["to"] == [REMOTE_BIDDER] and accept["object"] == bid.ap_id
    assert targets(session, accept["id"]) == [REMOTE_BIDDER]
    parsed = vocab.accept_from_json(accept)
    assert parsed.agreement.id == agreement.ap_id and parsed.agreement.attributed_to == accept["actor"]
    assert parsed.agreement.price == Price(Decimal(18), "EUR", "per_hour")
    snapshot = agreement_documents.read_agreement(accept["result"])
    assert (snapshot.provider, snapshot.state.value) == (REMOTE_BIDDER, "accepted")


def test_accepting_an_answer_to_an_offer_keeps_the_offer_open(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob, carol = person(engine, "alice"), person(engine, "bob", status="none"), person(engine, "carol")
    offer = make_proposal(session, settings, alice, purpose="offer")
    first = bids.place_bid(settings, bob, offer, BidInput(), session=session)
    second = bids.place_bid(settings, carol, offer, BidInput(), session=session)
    agreement = bids.accept_bid(settings, alice, first, session=session)
    session.commit()
    assert (agreement.provider_uri, agreement.local_requester_id) == (
        local.person(settings, alice).uri,
        bob.id,
    )
    session.refresh(offer)
    assert offer.state == "open" and second.state == "active"


def test_rejecting_with_a_reason(session: Session, settings: Settings, engine: Engine) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    demand = make_proposal(session, settings, alice)
    bid = bids.place_bid(settings, bob, demand, BidInput(amount="18"), session=session)
    with pytest.raises(ValidationFailed):
        bids.reject_bid(settings, alice, bid, "x" * 501, session=session)
    with pytest.raises(NotFound):
        bids.reject_bid(settings, bob, bid, "no", session=session)
    bids.reject_bid(settings, alice, bid, "Trop <script>loin</script> de chez moi", session=session)
    session.commit()
    assert (bid.state, bid.reject_reason) == ("rejected", "Trop de chez moi")
    data = json.loads(session.exec(select(Notification).where(Notification.user_id == bob.id)).one().data)
    assert data["reason"] == "Trop de chez moi"


# --- what people see -------------------------------------------------------------------------------------


def test_bids_are_sealed_and_shown_with_reputation_and_distance(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob, carol = (
        person(engine, "alice"),
        person(engine, "bob", commune=BAGNOLET),
        person(engine, "carol"),
    )
    demand = make_proposal(session, settings, alice)
    bid = bids.place_bid(settings, bob, demand, BidInput(amount="18"), session=session)
    far = remote_bid(session, demand)
    placed = remote_bid(  # another node's bidder whose Offer says their commune
        session, demand, "https://c.example/users/zoe", raw=json.dumps({"location": {"inseeCode": BAGNOLET}})
    )
    bob_uri = local.person(settings, bob).uri
    for score, evaluator in ((5, "https://a.example/users/x"), (4, "https://b.example/users/y")):
        session.add(
            Evaluation(
                ap_id=f"{evaluator}/evaluations/{score}",
                agreement_ap_id=f"{evaluator}/agreements/{score}",
                evaluator_uri=evaluator,
                evaluated_uri=bob_uri,
                evaluated_role="provider",
                overall=score,
                state="published",
            )
        )
    session.commit()
    views = {v.bidder_uri: v for v in bid_views.bids_for(settings, alice, demand, session=session)}
    mine = views[bob_uri]
    assert (mine.bidder_name, mine.local, mine.price) == (
        "bob",
        True,
        Price(Decimal(18), "EUR", "per_hour"),
    )
    assert mine.standing.reputation.count == 2 and mine.standing.reputation.mean == Decimal("4.50")
    assert mine.distance_km is not None and 1 < mine.distance_km < 6  # Bagnolet to Montreuil
    assert views[REMOTE_BIDDER].distance_km is None and views[REMOTE_BIDDER].standing.reputation.count == 0
    zoe = views[placed.bidder_uri].distance_km
    assert zoe is not None and abs(zoe - mine.distance_km) < 0.01
    with pytest.raises(NotFound):
        bid_views.bids_for(settings, bob, demand, session=session)
    assert bid.id is not None and bid_views.visible_bid(alice, bid.id, session=session)[0] is bid
    with pytest.raises(NotFound):
        bid_views.visible_bid(carol, bid.id, session=session)
    assert far.id is not None
    [line] = bid_views.my_bids(bob, session=session)
    assert line.bid is bid and line.proposal.id == demand.id and line.agreement is None


def test_bids_expire_with_their_proposal_not_with_the_deadline(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob = person(engine, "alice"), person(engine, "bob")
    open_one = make_proposal(session, settings, alice, deadline=utcnow() + timedelta(hours=1))
    withdrawn = make_proposal(session, settings, alice)
    outlived = make_proposal(session, settings, alice, expires=utcnow() + timedelta(days=1))
    placed = [
        bids.place_bid(settings, bob, p, BidInput(amount="18"), session=session)
        for p in (open_one, withdrawn, outlived)
    ]
    withdrawn.state = "withdrawn"
    session.commit()
    later = utcnow() + timedelta(days=2)  # past the deadline and the lifetime of the third
    assert bids.expire_bids(now=later, session=session) == 2
    session.commit()
    assert [b.state for b in placed] == ["active", "expired", "expired"]
    assert bids.expire_bids(now=later, session=session) == 0
    assert session.exec(select(Agreement)).all() == []
