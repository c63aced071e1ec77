"""Agreements on the node that holds them: confirmations, completion (both, or by silence), free and
late cancellation, disputes and their settlement, the timeline, contact details sealed at rest — and
the activities each step sends to a party on another node (to them only, never public). Also the
periodic market job."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.accounts.models import Role, User
from node.activitypub.actors import local
from node.activitypub.models import Delivery, OutboxActivity
from node.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.timeutil import utcnow
from node.market import schedule as sched
from node.market import vocab
from node.market.agreements import contacts as agreement_contacts
from node.market.agreements import documents as agreement_documents
from node.market.agreements import service as agreements
from node.market.agreements.parties import agreement_for, agreements_of, timeline
from node.market.bids import service as bids
from node.market.bids.service import BidInput
from node.market.jobs import MarketJob
from node.market.lifecycles import AGREEMENT_LIFECYCLE, AgreementState
from node.market.models import Agreement, AgreementContact, Bid, Notification, Proposal
from node.settings import Settings
from tests.support.market import make_proposal, person

REMOTE_BIDDER = "https://bagnolet.example/users/bob"


def slot(start_in: timedelta) -> sched.TimeWindow:
    start = (utcnow() + start_in).replace(microsecond=0)
    return sched.TimeWindow(start, start + timedelta(hours=2))


def local_agreement(
    session: Session, settings: Settings, engine: Engine, *, start_in: timedelta = timedelta(days=5)
) -> tuple[User, User, Agreement]:
    """Alice's demand, Bob's bid, accepted: ``(alice the requester, bob the provider, agreement)``."""
    alice, bob = person(engine, "alice"), person(engine, "bob")
    demand = make_proposal(session, settings, alice, schedule=slot(start_in))
    bid = bids.place_bid(settings, bob, demand, BidInput(amount="20"), session=session)
    agreement = bids.accept_bid(settings, alice, bid, session=session)
    session.commit()
    return alice, bob, agreement


def remote_agreement(
    session: Session, settings: Settings, engine: Engine, *, start_in: timedelta = timedelta(days=5)
) -> tuple[User, Agreement]:
    """Alice's demand accepted with a bid from Bob on another node."""
    alice = person(engine, "alice")
    demand = make_proposal(session, settings, alice, schedule=slot(start_in))
    assert demand.id is not None
    bid = Bid(
        ap_id="https://bagnolet.example/activities/1",
        proposal_id=demand.id,
        bidder_uri=REMOTE_BIDDER,
        origin="bagnolet.example",
        price_amount=Decimal(20),
        price_currency="EUR",
        price_basis="per_hour",
        quantity_hours=Decimal(2),
    )
    session.add(bid)
    session.commit()
    agreement = bids.accept_bid(settings, alice, bid, session=session)
    session.commit()
    return alice, agreement


def sent(session: Session, kind: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(OutboxActivity).where(OutboxActivity.type == kind).order_by(col(OutboxActivity.id))
    )
    found = []
    for row in rows:
        if row.object_id and "/proposals/" in row.object_id:
            continue  # the demand's own Update (closed), to its followers
        assert not row.public
        targets = [d.target for d in session.exec(select(Delivery).where(Delivery.outbox_id == row.id))]
        assert targets == [REMOTE_BIDDER]
        found.append(json.loads(row.payload))
    return found


def kinds(session: Session, user: User) -> list[str]:
    return [
        n.kind
        for n in session.exec(
            select(Notification).where(Notification.user_id == user.id).order_by(col(Notification.id))
        )
    ]


def test_the_lifecycle_is_declared() -> None:
    assert set(AGREEMENT_LIFECYCLE.edges()) == {
        (AgreementState.ACCEPTED, AgreementState.CONFIRMED_BY_ONE),
        (AgreementState.ACCEPTED, AgreementState.CANCELLED),
        (AgreementState.ACCEPTED, AgreementState.DISPUTED),
        (AgreementState.CONFIRMED_BY_ONE, AgreementState.COMPLETED),
        (AgreementState.CONFIRMED_BY_ONE, AgreementState.DISPUTED),
        (AgreementState.DISPUTED, AgreementState.COMPLETED),
        (AgreementState.DISPUTED, AgreementState.CANCELLED),
    }


def test_both_confirm_then_completed_with_a_receipt(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob, agreement = local_agreement(session, settings, engine)
    carol = person(engine, "carol")
    with pytest.raises(NotFound):
        agreements.confirm_completion(settings, carol, agreement, session=session)
    with pytest.raises(NotFound):
        agreement_for(settings, carol, agreement.id or 0, session=session)
    agreements.confirm_completion(settings, bob, agreement, session=session)
    session.commit()
    assert agreement.state == "confirmed_by_one" and agreement.provider_confirmed_at is not None
    with pytest.raises(Conflict):
        agreements.confirm_completion(settings, bob, agreement, session=session)
    agreements.confirm_completion(settings, alice, agreement, session=session)
    session.commit()
    assert agreement.state == "completed" and agreement.completed_at is not None
    assert agreement.receipt_ap_id == agreement.ap_id + "/receipt"
    assert [e.kind for e in timeline(agreement, session=session)] == [
        "accepted",
        "confirmed",
        "confirmed",
        "completed",
    ]
    assert "agreement_confirmed" in kinds(session, alice)
    assert kinds(session, bob)[-1] == "agreement_completed"
    assert session.exec(select(OutboxActivity).where(OutboxActivity.type != "Update")).all() == []
    assert (
        [a.id for a in agreements_of(alice, session=session)]
        == [agreement.id]
        == [a.id for a in agreements_of(bob, session=session)]
    )
    with pytest.raises(Conflict):
        agreements.cancel(settings, alice, agreement, session=session)
    with pytest.raises(Conflict):
        agreements.dispute(settings, alice, agreement, "trop tard", session=session)


def test_cancelling_is_free_until_a_day_before_the_start(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob, agreement = local_agreement(session, settings, engine)
    agreements.cancel(settings, bob, agreement, "Je ne peux plus", session=session)
    session.commit()
    assert (agreement.state, agreement.late_cancellation) == ("cancelled", False)
    assert agreement.cancelled_by_uri == local.person(settings, bob).uri
    assert [e.note for e in timeline(agreement, session=session) if e.kind == "cancelled"] == [
        "Je ne peux plus"
    ]
    assert kinds(session, alice)[-1] == "agreement_cancelled"
    with pytest.raises(Conflict):
        agreements.cancel(settings, alice, agreement, session=session)
    with pytest.raises(Conflict):
        agreements.confirm_completion(settings, alice, agreement, session=session)


def test_a_late_cancellation_is_recorded(session: Session, settings: Settings, engine: Engine) -> None:
    alice, _, agreement = local_agreement(session, settings, engine, start_in=timedelta(hours=10))
    with pytest.raises(ValidationFailed):
        agreements.cancel(settings, alice, agreement, "x" * 501, session=session)
    agreements.cancel(settings, alice, agreement, session=session)
    assert (agreement.state, agreement.late_cancellation) == ("cancelled", True)


def test_no_cancellation_once_someone_confirmed(session: Session, settings: Settings, engine: Engine) -> None:
    alice, bob, agreement = local_agreement(session, settings, engine)
    agreements.confirm_completion(settings, bob, agreement, session=session)
    with pytest.raises(Conflict):
        agreements.cancel(settings, alice, agreement, session=session)
    assert agreement.state == "confirmed_by_one"


def test_disputes_and_their_settlement(session: Session, settings: Settings, engine: Engine) -> None:
    alice, bob, agreement = local_agreement(session, settings, engine)
    coordinator = person(engine, "claire")
    row = session.get(User, coordinator.id)
    assert row is not None
    row.role = Role.COORDINATOR.value
    session.commit()
    agreements.confirm_completion(settings, bob, agreement, session=session)
    with pytest.raises(ValidationFailed):
        agreements.dispute(settings, alice, agreement, "  ", session=session)
    agreements.dispute(settings, alice, agreement, "Le ménage n'a pas été fait.", session=session)
    session.commit()
    assert agreement.state == "disputed" and agreement.dispute_reason == "Le ménage n'a pas été fait."
    assert kinds(session, bob)[-1] == "agreement_disputed" and kinds(session, row) == ["agreement_disputed"]
    assert (
        agreement_for(settings, row, agreement.id or 0, session=session) is agreement
    )  # coordinators see disputes
    for action in (agreements.confirm_completion, agreements.cancel):
        with pytest.raises(Conflict):
            action(settings, alice, agreement, session=session)
    assert agreements.complete_by_silence(settings, now=utcnow() + timedelta(days=30), session=session) == 0
    with pytest.raises(PermissionDenied):
        agreements.settle_dispute(settings, alice, agreement, "completed", session=session)
    agreements.settle_dispute(
        settings, row, agreement, "completed", "Vérifié avec les deux.", session=session
    )
    session.commit()
    assert agreement.state == "completed" and agreement.receipt_ap_id is not None
    assert [e.kind for e in timeline(agreement, session=session)][-2:] == ["settled", "completed"]
    with pytest.raises(Conflict):
        agreements.settle_dispute(settings, row, agreement, "cancelled", session=session)


def test_completion_by_silence(session: Session, settings: Settings, engine: Engine) -> None:
    _, bob, agreement = local_agreement(session, settings, engine)
    agreements.confirm_completion(settings, bob, agreement, session=session)
    session.commit()
    assert (
        agreements.complete_by_silence(settings, now=utcnow() + timedelta(days=6, hours=23), session=session)
        == 0
    )
    assert (
        agreements.complete_by_silence(settings, now=utcnow() + timedelta(days=7, minutes=1), session=session)
        == 1
    )
    session.commit()
    assert agreement.state == "completed"
    assert [e.kind for e in timeline(agreement, session=session)][-1] == "completed"


def test_each_step_is_sent_to_the_remote_party_only(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, agreement = remote_agreement(session, settings, engine)
    [accept] = sent(session, "Accept")
    assert accept["result"]["agreementState"] == "accepted"
    agreements.confirm_completion(settings, alice, agreement, session=session)
    session.commit()
    [create] = sent(session, "Create")
    event = vocab.agreement_event_from_json(create)
    assert (event.kind, event.actor, event.agreement) == (
        "confirm",
        local.person(settings, alice).uri,
        agreement.ap_id,
    )
    assert (event.provider, event.receiver, event.hours) == (REMOTE_BIDDER, event.actor, Decimal(2))
    update = sent(session, "Update")[-1]
    snapshot = agreement_documents.read_agreement(update["object"])
    assert (snapshot.state.value, snapshot.confirmed_by_receiver) == (
        "confirmed_by_one",
        agreement.requester_confirmed_at,
    )
    agreements.dispute(settings, alice, agreement, "Absent", session=session)
    session.commit()
    [flag] = sent(session, "Flag")
    assert vocab.agreement_event_from_json(flag).reason == "Absent"
    assert agreement_documents.read_agreement(sent(session, "Update")[-1]["object"]).state.value == "disputed"


def test_a_remote_cancellation_is_a_reject_of_the_agreement(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, agreement = remote_agreement(session, settings, engine, start_in=timedelta(hours=3))
    agreements.cancel(settings, alice, agreement, "Hospitalisée", session=session)
    session.commit()
    [reject] = [r for r in sent(session, "Reject") if isinstance(r["object"], dict)]
    event = vocab.agreement_event_from_json(reject)
    assert (event.kind, event.late, event.reason) == ("cancel", True, "Hospitalisée")
    assert reject["lateCancellation"] is True
    last = agreement_documents.read_agreement(sent(session, "Update")[-1]["object"])
    assert (last.state.value, last.late_cancellation) == ("cancelled", True)


def test_completion_sends_the_receipt(session: Session, settings: Settings, engine: Engine) -> None:
    alice, agreement = remote_agreement(session, settings, engine)
    agreement.provider_confirmed_at = utcnow()
    agreement.state = "confirmed_by_one"
    session.commit()
    agreements.confirm_completion(settings, alice, agreement, session=session)
    session.commit()
    receipt = next(a for a in sent(session, "Create") if a["object"]["type"] == "Document")
    parsed = vocab.receipt_from_json(receipt)
    assert (parsed.id, parsed.agreement) == (agreement.receipt_ap_id, agreement.ap_id)


# --- contact details -------------------------------------------------------------------------------------


def test_contact_details_are_sealed_and_for_the_parties_only(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, bob, agreement = local_agreement(session, settings, engine)
    eve = person(engine, "eve")
    with pytest.raises(ValidationFailed) as caught:
        agreement_contacts.share_contact(settings, alice, agreement, "", "", session=session)
    assert set(caught.value.fields) == {"address"}
    with pytest.raises(ValidationFailed) as caught:
        agreement_contacts.share_contact(
            settings, alice, agreement, "x" * 301, "appelle-moi", session=session
        )
    assert set(caught.value.fields) == {"address", "phone"}
    agreement_contacts.share_contact(
        settings, alice, agreement, "3 rue <b>Voltaire</b>\nBât. B", "06 11 22 33 44", session=session
    )
    session.commit()
    row = session.exec(select(AgreementContact)).one()
    assert "Voltaire" not in row.sealed and row.sealed.startswith("v1:")
    assert kinds(session, bob)[-1] == "contact_shared"
    seen = agreement_contacts.contacts_for(settings, bob, agreement, session=session)
    assert seen == {
        "requester": agreement_documents.ContactDetails("3 rue Voltaire\nBât. B", "06 11 22 33 44")
    }
    assert agreement_contacts.contacts_for(settings, eve, agreement, session=session) == {}
    agreement_contacts.share_contact(settings, alice, agreement, "", "07 00 00 00 00", session=session)
    session.commit()
    assert len(session.exec(select(AgreementContact)).all()) == 1
    assert (
        agreement_contacts.contacts_for(settings, alice, agreement, session=session)["requester"].address
        == ""
    )
    assert [e.note for e in timeline(agreement, session=session) if e.kind == "contact_shared"] == ["", ""]
    agreements.cancel(settings, bob, agreement, session=session)
    with pytest.raises(Conflict):
        agreement_contacts.share_contact(settings, bob, agreement, "ici", "", session=session)


def test_contact_details_with_a_remote_party_carry_no_details(
    session: Session, settings: Settings, engine: Engine
) -> None:
    alice, agreement = remote_agreement(session, settings, engine)
    row = agreement_contacts.share_contact(
        settings, alice, agreement, "12 rue du Marché", "0612345678", session=session
    )
    session.commit()
    [notice] = sent(session, "Create")
    assert "Marché" not in json.dumps(notice) and "0612345678" not in json.dumps(notice)
    assert notice["object"]["id"] == agreement_contacts.contact_id_of(settings, row)
    served = agreement_contacts.contact_document_for(
        settings, row.id or 0, "https://bagnolet.example/actor", session=session
    )
    assert (
        served is not None and served["address"] == "12 rue du Marché" and served["telephone"] == "0612345678"
    )
    for stranger in ("https://elsewhere.example/actor", "https://bagnolet.example.evil/actor"):
        assert (
            agreement_contacts.contact_document_for(settings, row.id or 0, stranger, session=session) is None
        )
    agreement_contacts.share_contact(settings, alice, agreement, "", "0612345679", session=session)
    assert [a["type"] for a in sent(session, "Update") if a["object"]["type"] == "ContactPoint"] == ["Update"]


# --- the periodic job ------------------------------------------------------------------------------------


def test_the_market_job(session: Session, settings: Settings, engine: Engine) -> None:
    _, bob, agreement = local_agreement(session, settings, engine)
    zoe = person(engine, "zoe")
    agreements.confirm_completion(settings, bob, agreement, session=session)
    other = make_proposal(session, settings, zoe, expires=utcnow() + timedelta(days=1))
    bid = bids.place_bid(settings, bob, other, BidInput(amount="15"), session=session)
    session.commit()
    ticks = iter([0.0, 30.0, 61.0])
    job = MarketJob(
        settings, engine, clock=lambda: utcnow() + timedelta(days=8), monotonic=lambda: next(ticks)
    )
    assert job.name == "market"
    assert asyncio.run(job.run_once()) == 3  # the proposal expired, its bid, the agreement completed
    assert asyncio.run(job.run_once()) == 0  # within the minute: nothing runs
    assert asyncio.run(job.run_once()) == 0  # nothing left to do
    asyncio.run(job.aclose())
    session.expire_all()
    assert session.get(Agreement, agreement.id).state == "completed"  # type: ignore[union-attr]
    assert session.get(Bid, bid.id).state == "expired"  # type: ignore[union-attr]
    assert session.get(Proposal, other.id).state == "expired"  # type: ignore[union-attr]
