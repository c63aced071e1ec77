"""Bids and agreements between two nodes: the bid reaches the author's node, the acceptance creates the
mirror, every transition federates and both nodes end in the same state (the holder deciding when the
parties act at once), contact details travel sealed and only to the other party; and hostile input
(forged Accept, bids the proposal does not take, someone else's Undo, events from non-parties,
updates from who does not hold the agreement) is refused with nothing changed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlmodel import Session, select

from node.accounts.models import Role, User
from node.activitypub.models import InboxActivity, InboxState, OutboxActivity
from node.core import db
from node.core.errors import Conflict
from node.core.timeutil import utcnow
from node.market import schedule as sched
from node.market import vocab
from node.market.agreements import contacts as agreement_contacts
from node.market.agreements import documents as agreement_documents
from node.market.agreements import service as agreements
from node.market.agreements.parties import timeline
from node.market.agreements.sync import agreement_document_for
from node.market.bids import service as bids
from node.market.bids.service import BidInput
from node.market.models import Agreement, AgreementContact, Bid, Notification, Proposal
from node.market.money import Price
from node.market.vocab.common import hours_of, read_quantity
from tests.support.data import DATA
from tests.support.federation import Federation, Node, federation, store  # noqa: F401
from tests.support.market import make_proposal, person

T = TypeVar("T")


def on(node: Node, work: Callable[[Session], T]) -> T:
    with db.session_scope(node.engine) as session:
        return work(session)


def one(node: Node, model: type[T], **where: Any) -> T:
    def find(session: Session) -> T:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.exec(query).one()

    return on(node, find)


def states(fed: Federation) -> list[str]:
    return [a.state for a in (on(n, lambda s: s.exec(select(Agreement)).one()) for n in fed.nodes)]


def inbox_states(node: Node) -> list[tuple[str, str]]:
    return [(row.type, row.state) for row in on(node, lambda s: list(s.exec(select(InboxActivity))))]


class Market:
    """Alice on A with a demand, Bob on B who answered it, and A's agreement once accepted."""

    def __init__(self, fed: Federation, *, start_in: timedelta = timedelta(days=5)) -> None:
        self.fed = fed
        self.a, self.b = fed.nodes
        self.alice = person(self.a.engine, "alice")
        self.bob = person(self.b.engine, "bob")
        start = (utcnow() + start_in).replace(microsecond=0)
        slot = sched.TimeWindow(start, start + timedelta(hours=2))
        self.demand = on(self.a, lambda s: make_proposal(s, self.a.settings, self.alice, schedule=slot))
        on(
            self.b,
            lambda s: make_proposal(
                s, self.b.settings, author_uri=self.a.uri("alice"), ap_id=self.demand.ap_id, schedule=slot
            ),
        )

    def bid(self, amount: str = "18") -> Bid:
        def place(session: Session) -> Bid:
            proposal = session.exec(select(Proposal)).one()
            return bids.place_bid(
                self.b.settings, self.bob, proposal, BidInput(amount=amount), session=session
            )

        return on(self.b, place)

    def accept(self) -> Agreement:
        def do(session: Session) -> Agreement:
            bid = session.exec(select(Bid)).one()
            return bids.accept_bid(self.a.settings, self.alice, bid, session=session)

        agreement = on(self.a, do)
        self.fed.settle()
        return agreement

    def act(self, node: Node, user: User, action: Callable[..., object], *args: Any) -> None:
        on(node, lambda s: action(node.settings, user, s.exec(select(Agreement)).one(), *args, session=s))


def coordinator(node: Node, username: str) -> User:
    user = person(node.engine, username)

    def promote(session: Session) -> User:
        row = session.get(User, user.id)
        assert row is not None
        row.role = Role.COORDINATOR.value
        return row

    return on(node, promote)


@pytest.fixture
def market(federation: Federation) -> Market:  # noqa: F811
    return Market(federation)


def test_bid_accept_confirm_complete_across_two_nodes(market: Market) -> None:
    fed, a, b = market.fed, market.a, market.b
    market.bid("18,50")
    fed.settle()
    received = one(a, Bid)
    assert (received.bidder_uri, received.origin, received.local_bidder_id) == (
        b.uri("bob"),
        b.settings.domain,
        None,
    )
    assert (received.price_amount, received.quantity_hours, received.state) == (
        Decimal("18.50"),
        Decimal(2),
        "active",
    )
    assert one(a, Notification).kind == "bid_received"

    held = market.accept()
    mirror = one(b, Agreement)
    assert (mirror.ap_id, mirror.origin) == (held.ap_id, a.settings.domain)
    assert (mirror.provider_uri, mirror.requester_uri) == (b.uri("bob"), a.uri("alice"))
    assert (mirror.local_provider_id, mirror.local_requester_id) == (market.bob.id, None)
    assert (mirror.price_amount, mirror.starts_at) == (Decimal("18.50"), held.starts_at)
    assert one(b, Bid).state == "accepted"
    assert [n.kind for n in on(b, lambda s: list(s.exec(select(Notification))))] == ["bid_accepted"]

    market.act(b, market.bob, agreements.confirm_completion)
    assert states(fed) == ["accepted", "accepted"]  # the mirror waits for its holder
    fed.settle()
    assert states(fed) == ["confirmed_by_one", "confirmed_by_one"]
    assert one(b, Agreement).provider_confirmed_at == one(a, Agreement).provider_confirmed_at

    market.act(a, market.alice, agreements.confirm_completion)
    fed.settle()
    assert states(fed) == ["completed", "completed"]
    held, mirror = one(a, Agreement), one(b, Agreement)
    assert held.receipt_ap_id == mirror.receipt_ap_id == held.ap_id + "/receipt"
    assert mirror.completed_at is not None and held.completed_at is not None
    assert [e.kind for e in on(b, lambda s: list(timeline(mirror, session=s)))] == [
        "accepted",
        "confirmed",
        "confirmed",
        "completed",
    ]
    assert {row[1] for row in inbox_states(a) + inbox_states(b)} == {"done"}
    kinds = [n.kind for n in on(b, lambda s: list(s.exec(select(Notification))))]
    assert {"agreement_confirmed", "agreement_completed"} <= set(kinds)
    with pytest.raises(Conflict):
        market.act(b, market.bob, agreements.confirm_completion)


def test_the_holder_decides_when_the_parties_act_at_once(market: Market) -> None:
    fed, a, b = market.fed, market.a, market.b
    market.bid()
    fed.settle()
    market.accept()
    market.act(a, market.alice, agreements.confirm_completion)  # not yet delivered...
    market.act(b, market.bob, agreements.cancel, "Empêchement")  # ...when Bob cancels
    fed.settle()
    assert states(fed) == ["confirmed_by_one", "confirmed_by_one"]
    cancel_row = next(r for r in fed.inbox_rows(a) if r.type == "Reject")
    assert cancel_row.state == "ignored"  # changed nothing, answered with the holder's state


def test_completed_by_silence_on_the_holder_and_followed_by_the_mirror(market: Market) -> None:
    fed, a = market.fed, market.a
    market.bid()
    fed.settle()
    market.accept()
    market.act(market.b, market.bob, agreements.confirm_completion)
    fed.settle()
    assert (
        on(
            a,
            lambda s: agreements.complete_by_silence(a.settings, now=utcnow() + timedelta(days=6), session=s),
        )
        == 0
    )
    assert (
        on(
            a,
            lambda s: agreements.complete_by_silence(a.settings, now=utcnow() + timedelta(days=8), session=s),
        )
        == 1
    )
    fed.settle()
    assert states(fed) == ["completed", "completed"]
    assert one(market.b, Agreement).receipt_ap_id is not None


def test_late_cancellation_checked_by_the_holder(federation: Federation) -> None:  # noqa: F811
    market = Market(federation, start_in=timedelta(hours=10))
    market.bid()
    federation.settle()
    market.accept()
    market.act(market.b, market.bob, agreements.cancel, "Malade")
    federation.settle()
    assert states(federation) == ["cancelled", "cancelled"]
    held, mirror = one(market.a, Agreement), one(market.b, Agreement)
    assert held.late_cancellation and mirror.late_cancellation
    assert held.cancelled_by_uri == mirror.cancelled_by_uri == market.b.uri("bob")
    assert [
        e.note for e in on(market.a, lambda s: list(timeline(held, session=s))) if e.kind == "cancelled"
    ] == ["Malade"]
    assert one(market.a, Notification, kind="agreement_cancelled").user_id == market.alice.id


def test_a_dispute_reaches_both_nodes_coordinators_and_is_settled_by_the_holder(market: Market) -> None:
    fed, a, b = market.fed, market.a, market.b
    coordinators = [coordinator(n, f"coord{n.name}") for n in (a, b)]
    market.bid()
    fed.settle()
    market.accept()
    market.act(b, market.bob, agreements.dispute, "Personne n'est venu ouvrir.")
    fed.settle()
    assert states(fed) == ["disputed", "disputed"]
    for node, user in zip((a, b), coordinators, strict=True):
        assert one(node, Notification, user_id=user.id).kind == "agreement_disputed"
    with pytest.raises(Conflict):  # the mirror does not settle
        market.act(b, coordinators[1], agreements.settle_dispute, "completed")
    market.act(a, coordinators[0], agreements.settle_dispute, "cancelled", "Accord amiable")
    fed.settle()
    assert states(fed) == ["cancelled", "cancelled"]
    assert [e.kind for e in on(b, lambda s: list(timeline(s.exec(select(Agreement)).one(), session=s)))][
        -1
    ] == "settled"
    assert one(b, Notification, user_id=market.bob.id, kind="agreement_cancelled") is not None


def test_contact_details_travel_sealed_and_to_the_other_party_only(market: Market) -> None:
    fed, a, b = market.fed, market.a, market.b
    market.bid()
    fed.settle()
    market.accept()
    address, phone = "12 rue de la Paix, 93100 Montreuil, digicode 4521", "06 12 34 56 78"
    market.act(a, market.alice, agreement_contacts.share_contact, address, phone)
    fed.settle()
    assert len(fed.fetched) == 1 and "/agreement-contacts/" in fed.fetched[0]
    bob_view = on(
        b,
        lambda s: agreement_contacts.contacts_for(
            b.settings, market.bob, s.exec(select(Agreement)).one(), session=s
        ),
    )
    assert bob_view["requester"] == agreement_documents.ContactDetails(address, phone)
    for node in (a, b):
        with node.session() as session:
            for model in (OutboxActivity, InboxActivity, AgreementContact, Notification):
                dumped = json.dumps([row.model_dump(mode="json") for row in session.exec(select(model))])
                assert "digicode" not in dumped and "06 12 34" not in dumped
    sent = on(a, lambda s: s.exec(select(OutboxActivity).where(OutboxActivity.type == "Create")).one())
    notice = json.loads(sent.payload)
    assert not sent.public and notice["to"] == [b.uri("bob")] and "cc" not in notice
    assert notice["object"]["type"] == "ContactPoint" and set(notice["object"]) == {
        "type",
        "id",
        "attributedTo",
        "context",
    }
    # Nobody else's node may read them, nor the party's own.
    contact_id = on(a, lambda s: s.exec(select(AgreementContact)).one().id)
    assert contact_id is not None

    def served_to(requester: str) -> object:
        return on(
            a, lambda s: agreement_contacts.contact_document_for(a.settings, contact_id, requester, session=s)
        )

    assert served_to("https://elsewhere.example/actor") is None
    assert served_to(a.settings.url("/actor")) is None
    assert (
        on(
            b,
            lambda s: agreement_contacts.contacts_for(
                b.settings, person(b.engine, "eve"), s.exec(select(Agreement)).one(), session=s
            ),
        )
        == {}
    )
    # Bob answers with his own; Alice reads them.
    market.act(b, market.bob, agreement_contacts.share_contact, "", "+33 7 00 00 00 00")
    fed.settle()
    alice_view = on(
        a,
        lambda s: agreement_contacts.contacts_for(
            a.settings, market.alice, s.exec(select(Agreement)).one(), session=s
        ),
    )
    assert alice_view["provider"].phone == "+33 7 00 00 00 00"


def test_the_agreement_document_is_served_to_the_parties_nodes(market: Market) -> None:
    fed, a = market.fed, market.a
    market.bid()
    fed.settle()
    held = market.accept()
    full = on(
        a,
        lambda s: agreement_documents.read_agreement(
            agreement_documents_for(s, a, held.ap_id, "https://bagnolet.example/actor")
        ),
    )
    assert (full.state.value, full.provider, full.receiver) == (
        "accepted",
        market.b.uri("bob"),
        a.uri("alice"),
    )
    assert full.terms.price is not None
    assert (
        on(a, lambda s: agreement_documents_for(s, a, held.ap_id, "https://elsewhere.example/actor")) is None
    )
    market.act(a, market.alice, agreements.confirm_completion)
    market.act(market.b, market.bob, agreements.confirm_completion)
    fed.settle()
    public = on(a, lambda s: agreement_documents_for(s, a, held.ap_id, "https://elsewhere.example/actor"))
    assert public is not None and "stipulatesReciprocal" not in public
    snapshot = agreement_documents.read_agreement(public)
    assert (snapshot.state.value, snapshot.provider, snapshot.terms.price) == (
        "completed",
        market.b.uri("bob"),
        None,
    )


def agreement_documents_for(
    session: Session, node: Node, ap_id: str, requester: str
) -> dict[str, Any] | None:
    found = agreement_document_for(node.settings, ap_id, requester, session=session)
    return dict(found) if found is not None else None


# --- hostile input --------------------------------------------------------------------------------------


def last_row(fed: Federation, node: Node) -> InboxActivity:
    fed.process(node)
    return fed.inbox_rows(node)[-1]


def offer(market: Market, actor: str, *, proposal: str | None = None, amount: str = "18") -> dict[str, Any]:
    origin = actor.split("/users/")[0]
    proposal = proposal or market.demand.ap_id
    terms = vocab.AgreementDoc(
        primary_intent=proposal + "#primary",
        reciprocal_intent=proposal + "#reciprocal",
        quantity=Decimal(2),
        price=Price(Decimal(amount), "EUR", "per_hour"),
    )
    return vocab.offer_to_json(
        actor, terms, [market.a.uri("alice")], activity_id=f"{origin}/activities/{uuid.uuid4()}"
    )


@pytest.mark.parametrize(
    ("setup", "amount"),
    [
        ("closed", "18"),
        ("deadline", "18"),
        ("second", "17"),
        ("unknown", "18"),
        ("absurd", "900"),
        ("own", "18"),
    ],
)
def test_offers_the_proposal_does_not_take_are_refused(market: Market, setup: str, amount: str) -> None:
    fed, a = market.fed, market.a
    bidder = market.b.uri("bob")
    if setup == "closed":
        on(a, lambda s: setattr(s.exec(select(Proposal)).one(), "state", "closed"))
    if setup == "deadline":
        on(
            a,
            lambda s: setattr(
                s.exec(select(Proposal)).one(), "bidding_deadline", utcnow() - timedelta(hours=1)
            ),
        )
    if setup == "second":
        store(a, offer(market, bidder))
        assert last_row(fed, a).state == "done"
    if setup == "own":
        bidder = a.uri("alice")
    activity = offer(
        market,
        bidder,
        proposal=a.settings.url("/proposals/nope") if setup == "unknown" else None,
        amount=amount,
    )
    before = on(a, lambda s: len(s.exec(select(Bid)).all()))
    store(a, activity)
    row = last_row(fed, a)
    assert on(a, lambda s: len(s.exec(select(Bid)).all())) == before
    if setup == "unknown":  # not ours to answer
        assert row.state == InboxState.FAILED.value, row.error
        return
    # Answered: the bidder's server learns why, in French and English; the row is done, not failed.
    assert row.state == InboxState.DONE.value, row.error
    rejects = [json.loads(o.payload) for o in fed.outbox(a) if o.type == "Reject"]
    if setup == "own":
        assert rejects == []  # a local author: nothing to send
        return
    (reject,) = rejects
    assert reject["object"] == activity["id"] and reject["to"] == [bidder]
    assert set(reject["contentMap"]) == {"fr", "en"}
    assert reject["contentMap"]["fr"] != reject["contentMap"]["en"]


def refused(market: Market, activity: dict[str, Any]) -> dict[str, Any]:
    """The ``Reject`` that A's author sends back to ``activity`` received by A: no answer stored."""
    fed, a = market.fed, market.a
    store(a, activity)
    row = last_row(fed, a)
    assert row.state == InboxState.DONE.value, row.error
    assert on(a, lambda s: s.exec(select(Bid)).all()) == []
    (reject,) = [json.loads(o.payload) for o in fed.outbox(a) if o.type == "Reject"]
    assert reject["object"] == activity["id"] and reject["to"] == [activity["actor"]]
    found: dict[str, Any] = reject
    return found


def test_mitra_offer_priced_in_another_asset_is_answered_with_a_reject(market: Market) -> None:
    """Mitra's ``Offer(Agreement)``: time in seconds, money in an asset's smallest unit."""
    a = market.a
    activity = json.loads((DATA / "activitypub" / "mitra-offer-agreement.json").read_text(encoding="utf-8"))
    text = json.dumps(activity).replace("https://market.example/proposals/demand", market.demand.ap_id)
    text = text.replace("https://market.example/users/alice", a.uri("alice"))
    activity = json.loads(text)
    with pytest.raises(vocab.UnsupportedPayment, match="caip:19:monero"):
        vocab.offer_from_json(activity)
    primary = activity["object"]["stipulates"]
    assert hours_of(read_quantity(primary, "resourceQuantity")) == Decimal(2)  # 7200 seconds
    reject = refused(market, activity)
    assert "euros" in reject["contentMap"]["en"] and "euros" in reject["contentMap"]["fr"]
    assert reject["actor"] == a.uri("alice")


def test_mitra_offer_as_mitra_builds_it_is_answered_with_a_reject(market: Market) -> None:
    """The ``Offer(Agreement)`` exactly as Mitra's builder writes it (``captured/``): time in seconds, the
    reciprocal commitment naming no resource, so read as FEP-0837 says, in ``one`` of the resource of the
    intent it satisfies (ours: euros): 200,000 €, past the node's limit, refused with the reason."""
    a = market.a
    text = (DATA / "activitypub" / "captured" / "mitra-offer-agreement.json").read_text(encoding="utf-8")
    text = text.replace("https://remote.example/proposals/1", market.demand.ap_id)
    activity = json.loads(text.replace("https://remote.example/users/test", a.uri("alice")))
    reject = refused(market, activity)
    assert "20 000" in reject["contentMap"]["fr"] and "20,000" in reject["contentMap"]["en"]


def test_offer_counted_in_minutes_is_read_in_hours(market: Market) -> None:
    fed, a = market.fed, market.a
    activity = offer(market, market.b.uri("bob"))
    activity["object"]["stipulates"]["resourceQuantity"] = {
        "hasUnit": "om2:minute-Time",
        "hasNumericalValue": 150,
    }
    store(a, activity)
    assert last_row(fed, a).state == InboxState.DONE.value
    assert on(a, lambda s: s.exec(select(Bid)).one().quantity_hours) == Decimal("2.5")


def test_a_forged_accept_is_refused(market: Market) -> None:
    fed, b = market.fed, market.b
    bid = market.bid()
    mallory = "https://montreuil.example/users/mallory"
    forged = {
        "@context": vocab.CONTEXT,
        "type": "Accept",
        "id": f"https://montreuil.example/activities/{uuid.uuid4()}",
        "actor": mallory,
        "object": bid.ap_id,
        "result": {
            "type": "Agreement",
            "id": "https://montreuil.example/agreements/forged",
            "attributedTo": mallory,
            "stipulates": {"type": "Commitment", "satisfies": market.demand.ap_id + "#primary"},
        },
        "to": [b.uri("bob")],
    }
    store(b, forged)
    row = last_row(fed, b)
    assert row.state == "failed" and "only" in row.error
    assert on(b, lambda s: s.exec(select(Agreement)).all()) == [] and one(b, Bid).state == "active"


def test_an_undo_by_someone_else_is_refused(market: Market) -> None:
    fed, a = market.fed, market.a
    bid = market.bid()
    fed.settle()
    mallory = "https://bagnolet.example/users/mallory"
    undo = vocab.withdrawal_to_json(
        mallory,
        bid.ap_id,
        [a.uri("alice")],
        activity_id=f"https://bagnolet.example/activities/{uuid.uuid4()}",
    )
    undo["object"]["actor"] = mallory
    store(a, undo)
    assert last_row(fed, a).state == "failed"
    # From another node, the embedded Offer (not of the signer's origin) reaches the handler as an id.
    elsewhere = "https://elsewhere.example/users/mallory"
    undo = vocab.withdrawal_to_json(
        elsewhere,
        bid.ap_id,
        [a.uri("alice")],
        activity_id=f"https://elsewhere.example/activities/{uuid.uuid4()}",
    )
    store(a, undo)
    assert last_row(fed, a).state == "failed"
    assert one(a, Bid).state == "active"


def test_a_bid_rejection_only_from_the_author(market: Market) -> None:
    fed, b = market.fed, market.b
    bid = market.bid()
    mallory = "https://montreuil.example/users/mallory"
    reject = vocab.reject_to_json(
        mallory,
        bid.ap_id,
        [b.uri("bob")],
        activity_id=f"https://montreuil.example/activities/{uuid.uuid4()}",
        reason="non",
    )
    store(b, reject)
    assert last_row(fed, b).state == "failed" and one(b, Bid).state == "active"


@pytest.mark.parametrize("kind", ["confirm", "cancel", "dispute"])
def test_agreement_events_from_a_non_party_are_refused(market: Market, kind: str) -> None:
    fed, a, b = market.fed, market.a, market.b
    market.bid()
    fed.settle()
    held = market.accept()
    for node, signer in (
        (a, "https://bagnolet.example/users/mallory"),
        (b, "https://montreuil.example/users/mallory"),
    ):
        origin = signer.split("/users/")[0]
        event = vocab.AgreementEvent(
            kind=kind,  # type: ignore[arg-type]
            id=f"{origin}/activities/{uuid.uuid4()}",
            actor=signer,
            agreement=held.ap_id,
            to=(node.uri("x"),),
            published=utcnow(),
            event_id=f"{origin}/events/{uuid.uuid4()}" if kind == "confirm" else None,
            reason="faux",
        )
        store(node, vocab.agreement_event_to_json(event))
        row = last_row(fed, node)
        assert row.state == "failed", (node.name, row.error)
    assert states(fed) == ["accepted", "accepted"]


def test_only_the_holder_updates_the_mirror(market: Market) -> None:
    fed, b = market.fed, market.b
    market.bid()
    fed.settle()
    held = market.accept()
    document = json.loads(on(market.a, lambda s: s.exec(select(Agreement)).one()).raw or "{}")
    document["agreementState"] = "cancelled"
    document["updated"] = sched.format_instant(utcnow() + timedelta(minutes=1))
    mallory = "https://montreuil.example/users/mallory"
    update = agreement_documents.update_activity(
        document,
        actor=mallory,
        to=b.uri("bob"),
        activity_id=f"https://montreuil.example/activities/{uuid.uuid4()}",
    )
    store(b, update)
    assert last_row(fed, b).state == "failed"
    assert one(b, Agreement).state == "accepted"
    # A stale update from the holder changes nothing either.
    document["updated"] = sched.format_instant(held.created_at - timedelta(days=1))
    stale = agreement_documents.update_activity(
        document,
        actor=market.a.uri("alice"),
        to=b.uri("bob"),
        activity_id=f"https://montreuil.example/activities/{uuid.uuid4()}",
    )
    store(b, stale)
    assert last_row(fed, b).state == "ignored" and one(b, Agreement).state == "accepted"


def test_an_event_before_its_accept_waits_for_it(market: Market) -> None:
    fed, a, b = market.fed, market.a, market.b
    market.bid()
    fed.settle()
    on(a, lambda s: bids.accept_bid(a.settings, market.alice, s.exec(select(Bid)).one(), session=s))
    market.act(a, market.alice, agreements.confirm_completion)
    # Deliver to B, but process the Update and the confirmation before the Accept.
    fed.deliver(a)

    def hold_back_the_accept(session: Session) -> None:
        for row in session.exec(select(InboxActivity).where(InboxActivity.type == "Accept")):
            row.next_attempt_at = utcnow() + timedelta(hours=1)

    on(b, hold_back_the_accept)
    fed.process(b)
    assert on(b, lambda s: s.exec(select(Agreement)).all()) == []
    waiting = [r for r in fed.inbox_rows(b) if r.type != "Accept"]
    assert waiting and all(r.state == "pending" for r in waiting)
    fed.settle()
    assert states(fed) == ["confirmed_by_one", "confirmed_by_one"]
    assert all(r.state == "done" for r in fed.inbox_rows(b))
