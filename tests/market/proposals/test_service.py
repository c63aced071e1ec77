"""Offers and demands, the service: posting with every rule checked, changing, withdrawing, expiring,
closing, and the listing queries (filters, plain text matching, visibility, paging)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub.models import DomainBlock, OutboxActivity
from node.core.errors import Conflict, PermissionDenied, ValidationFailed
from node.core.timeutil import utcnow
from node.market.models import Bid, Notification, Proposal
from node.market.proposals import input as proposal_input
from node.market.proposals import service as proposals
from node.market.proposals.records import ProposalFilters, fold, parse_filters
from node.settings import Mode, Settings
from tests.support.accounts import make_user


@pytest.fixture
def alice(engine: Engine) -> User:
    return make_user(engine, "alice")


@pytest.fixture
def bob(engine: Engine) -> User:
    return make_user(engine, "bob")


def offer(**changes: Any) -> proposals.ProposalInput:
    base = proposals.ProposalInput(
        purpose="offer",
        title="Repassage en soirée",
        description="<p>Je repasse vos chemises, <strong>soigneusement</strong>.</p>",
        category="laundry-delivery",
        postal_code="93100",
        commune_name="Montreuil",
        quantity="2",
        price="18,50",
        price_basis="per_hour",
    )
    return replace(base, **changes)


def demand(**changes: Any) -> proposals.ProposalInput:
    values: dict[str, Any] = {"title": "Courses avec ma mère", "category": "grocery-delivery", **changes}
    return offer(purpose="request", **values)


def post(session: Session, settings: Settings, author: User, data: proposals.ProposalInput) -> Proposal:
    row = proposals.create(settings, author, data, session=session)
    session.commit()
    return row


def outbox(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(select(OutboxActivity).order_by(col(OutboxActivity.id))).all()
    return [json.loads(r.payload) for r in rows]


def refused(
    session: Session, settings: Settings, author: User, data: proposals.ProposalInput
) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        proposals.create(settings, author, data, session=session)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Proposal)).one() == 0
    assert session.exec(select(func.count()).select_from(OutboxActivity)).one() == 0
    return caught.value.fields


# --- posting ---------------------------------------------------------------------------------------------


def test_an_offer_is_stored_and_published(session: Session, settings: Settings, alice: User) -> None:
    row = post(session, settings, alice, offer())
    assert row.ap_id.startswith(settings.url("/proposals/")) and row.origin == ""
    assert row.author_uri == settings.url("/users/alice") and row.local_author_id == alice.id
    assert (row.commune_insee, row.commune_name, row.departement, row.postal_code) == (
        "93048",
        "Montreuil",
        "93",
        "93100",
    )
    assert row.latitude == 48.86 and row.longitude == 2.45  # coarse: 0.01°
    assert (row.price_amount, row.price_currency, row.price_basis) == (Decimal("18.50"), "EUR", "per_hour")
    assert row.quantity_hours == Decimal("2") and row.state == "open"
    assert row.expires_at is not None
    assert timedelta(days=29) < row.expires_at - row.published_at <= timedelta(days=30)
    # what full-text search reads: title, text, commune, author, the category (FR and EN), the département
    assert row.search_text.startswith(
        "repassage en soiree je repasse vos chemises soigneusement montreuil alice collecte "
    )
    assert row.search_text.endswith(" ironed laundry seine saint denis")
    assert row.title_terms == "repassag soire"
    [activity] = outbox(session)
    assert activity["type"] == "Create" and activity["actor"] == row.author_uri
    assert activity["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert activity["cc"] == [row.author_uri + "/followers"]
    document = activity["object"]
    assert document["type"] == "Proposal" and document["id"] == row.ap_id
    assert document["purpose"] == "offer" and document["category"] == "laundry-delivery"
    assert document["location"]["inseeCode"] == "93048"
    assert document["reciprocal"]["resourceQuantity"]["hasNumericalValue"] == "18.50"
    assert document["proposalState"] == "open"


def test_script_is_removed_not_stored(session: Session, settings: Settings, alice: User) -> None:
    row = post(
        session,
        settings,
        alice,
        offer(
            title="<script>alert(1)</script>Repassage <b>soigné</b>",
            description='<p onclick="x()">Bonjour<script>steal()</script> '
            '<a href="javascript:x()">ici</a></p>',
        ),
    )
    assert row.title == "Repassage soigné"
    assert "script" not in row.description and "onclick" not in row.description
    assert "steal" not in row.description and "javascript" not in row.description
    assert "Bonjour" in row.description


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "Abc"}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"description": "<p>" + "a" * 5001 + "</p>"}, "description"),
        ({"category": "massage"}, "category"),
        ({"postal_code": "9310"}, "postal_code"),
        ({"commune_name": "Paris"}, "commune_name"),
        ({"price": "600"}, "price"),
        ({"price": "-3"}, "price"),
        ({"price": "18.555"}, "price"),
        ({"price": "25000", "price_basis": "total", "quantity": "2"}, "price"),
        ({"price": "450", "quantity": "200"}, "price"),  # 90,000 € in total
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "900"}, "quantity"),
        ({"price_basis": "per_week"}, "price_basis"),
        ({"currency": "HOUR"}, "currency"),  # time tokens on a market node
        ({"currency": "USD"}, "currency"),
        ({"price": ""}, "price"),  # an offer needs a price unless free
        ({"free": True}, "price"),  # free with a price
        ({"lifetime_days": "181"}, "lifetime_days"),
        ({"lifetime_days": "0"}, "lifetime_days"),
        ({"purpose": "gift"}, "purpose"),
        ({"schedule_kind": "monthly"}, "schedule_kind"),
        ({"schedule_kind": "window", "start": "demain", "end": ""}, "start"),
        ({"bidding_deadline": "2099-01-01T10:00"}, "bidding_deadline"),  # an offer takes no bids
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    session: Session, settings: Settings, alice: User, changes: dict[str, Any], field: str
) -> None:
    assert field in refused(session, settings, alice, offer(**changes))


def test_schedules_and_their_timing(session: Session, settings: Settings, alice: User) -> None:
    start = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT14:00")
    end = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT16:00")
    row = post(session, settings, alice, offer(schedule_kind="window", start=start, end=end))
    assert row.starts_at is not None and row.starts_at.hour in (12, 13)  # 14:00 in Paris is UTC+1 or +2
    first = (utcnow() + timedelta(days=1)).date()
    weekly = offer(
        schedule_kind="weekly",
        weekdays=["TU", "TH"],
        start_time="18:00",
        end_time="20:00",
        first_day=first.isoformat(),
        last_day=(first + timedelta(days=60)).isoformat(),
    )
    row = post(session, settings, alice, weekly)
    assert json.loads(row.schedule or "{}")["eventSchedule"]["byDay"] == ["TU", "TH"]
    past = (utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT14:00")
    with pytest.raises(ValidationFailed) as caught:
        proposals.create(settings, alice, offer(schedule_kind="window", start=past, end=end), session=session)
    assert "start" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        proposals.create(settings, alice, replace(weekly, weekdays=[]), session=session)
    assert "weekdays" in caught.value.fields


def test_regulated_offers_need_an_eligible_status(
    session: Session, settings: Settings, engine: Engine, alice: User
) -> None:
    care = offer(category="childcare-under-3")
    assert refused(session, settings, alice, care) == {"category": proposal_input.MSG_NOT_ELIGIBLE}
    # Asking for such a service is open to anyone; answering is checked on bids.
    assert post(session, settings, alice, demand(category="childcare-under-3")).purpose == "request"
    user = session.get(User, alice.id)
    assert user is not None
    user.provider_status = "association"
    session.add(user)
    session.commit()
    assert post(session, settings, user, care).category == "childcare-under-3"


def test_payment_rules(session: Session, settings: Settings, alice: User) -> None:
    open_amount = post(session, settings, alice, demand(price=""))
    assert (open_amount.price_amount, open_amount.price_currency) == (None, "EUR")
    free = post(session, settings, alice, offer(price="", free=True))
    assert (free.price_amount, free.price_currency, free.price_basis) == (None, None, None)
    total = post(session, settings, alice, offer(price="1 200,50", price_basis="total", quantity="40"))
    assert (total.price_amount, total.price_basis) == (Decimal("1200.50"), "total")
    cooperative = settings.replace(mode=Mode.COOPERATIVE)
    tokens = post(session, cooperative, alice, offer(price="1"))
    assert (tokens.price_currency, tokens.price_amount) == ("HOUR", Decimal("1"))
    euros = post(session, cooperative, alice, offer(price="12", currency="EUR"))
    assert euros.price_currency == "EUR"
    assert "price" in refused_more(session, cooperative, alice, offer(price="11"))  # > 10 tokens an hour


def refused_more(
    session: Session, settings: Settings, author: User, data: proposals.ProposalInput
) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        proposals.create(settings, author, data, session=session)
    session.rollback()
    return caught.value.fields


def test_bidding_deadlines(session: Session, settings: Settings, alice: User) -> None:
    soon = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT18:00")
    row = post(session, settings, alice, demand(bidding_deadline=soon))
    assert row.bidding_deadline is not None and row.bidding_deadline > utcnow()
    late = (utcnow() + timedelta(days=20)).strftime("%Y-%m-%dT18:00")
    assert refused_more(session, settings, alice, demand(bidding_deadline=late, lifetime_days="7")) == {
        "bidding_deadline": proposal_input.MSG_DEADLINE_AFTER_EXPIRY
    }
    past = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT18:00")
    assert refused_more(session, settings, alice, demand(bidding_deadline=past)) == {
        "bidding_deadline": proposal_input.MSG_DEADLINE_PAST
    }
    start = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    end = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT12:00")
    after_start = demand(schedule_kind="window", start=start, end=end, bidding_deadline=soon)
    assert refused_more(session, settings, alice, after_start) == {
        "bidding_deadline": proposal_input.MSG_DEADLINE_AFTER_START
    }
    cooperative = settings.replace(mode=Mode.COOPERATIVE)
    assert refused_more(session, cooperative, alice, demand(bidding_deadline=soon, price="")) == {
        "bidding_deadline": proposal_input.MSG_DEADLINE_MARKET
    }


def test_suspended_people_cannot_publish(session: Session, settings: Settings, alice: User) -> None:
    user = session.get(User, alice.id)
    assert user is not None
    user.status = AccountStatus.SUSPENDED.value
    session.add(user)
    session.commit()
    with pytest.raises(PermissionDenied):
        proposals.create(settings, user, offer(), session=session)


# --- changing, withdrawing, expiring, closing ---------------------------------------------------------


def test_the_author_changes_an_open_proposal(
    session: Session, settings: Settings, alice: User, bob: User
) -> None:
    row = post(session, settings, alice, offer())
    with pytest.raises(PermissionDenied):
        proposals.update(settings, bob, row, offer(title="Repassage pas cher"), session=session)
    session.rollback()
    data = proposals.input_of(row)
    assert data.price == "18.50" and data.commune_name == "Montreuil" and not data.free
    data.title = "Repassage et pliage"
    data.price = "20"
    proposals.update(settings, alice, row, data, session=session)
    session.commit()
    assert (row.title, row.price_amount) == ("Repassage et pliage", Decimal("20"))
    assert row.updated_at > row.published_at
    update = outbox(session)[-1]
    assert update["type"] == "Update" and update["object"]["name"] == "Repassage et pliage"
    assert update["object"]["updated"]
    with pytest.raises(ValidationFailed) as caught:
        proposals.update(settings, alice, row, replace(data, purpose="request"), session=session)
    assert caught.value.fields == {"purpose": proposal_input.MSG_PURPOSE_FIXED}


def test_the_deal_is_frozen_once_answers_arrived(session: Session, settings: Settings, alice: User) -> None:
    row = post(session, settings, alice, demand(price="40", price_basis="total"))
    session.add(
        Bid(
            ap_id="https://b.example/activities/1",
            proposal_id=int(row.id or 0),
            bidder_uri="https://b.example/users/bob",
        )
    )
    session.commit()
    data = proposals.input_of(row)
    with pytest.raises(Conflict) as caught:
        proposals.update(
            settings,
            alice,
            row,
            replace(data, price="35", postal_code="93170", commune_name="Bagnolet"),
            session=session,
        )
    assert set(caught.value.fields) == {"price", "commune_name"}
    session.rollback()
    updated = proposals.update(
        settings, alice, row, replace(data, title="Courses du mardi", lifetime_days="60"), session=session
    )
    assert updated.title == "Courses du mardi" and updated.price_amount == Decimal("40")


def test_withdrawal(session: Session, settings: Settings, alice: User, bob: User) -> None:
    row = post(session, settings, alice, offer())
    with pytest.raises(PermissionDenied):
        proposals.withdraw(settings, bob, row, session=session)
    proposals.withdraw(settings, alice, row, session=session)
    session.commit()
    assert row.state == "withdrawn" and row.closed_at is not None
    delete = outbox(session)[-1]
    assert delete["type"] == "Delete"
    assert delete["object"] == {"type": "Tombstone", "id": row.ap_id, "formerType": "Proposal"}
    with pytest.raises(Conflict):
        proposals.withdraw(settings, alice, row, session=session)
    with pytest.raises(Conflict):
        proposals.update(settings, alice, row, proposals.input_of(row), session=session)


def test_expiry_publishes_and_notifies(session: Session, settings: Settings, alice: User) -> None:
    row = post(session, settings, alice, offer(lifetime_days="7"))
    remote = Proposal(
        ap_id="https://b.example/proposals/1",
        origin="b.example",
        author_uri="https://b.example/users/bob",
        purpose="request",
        title="Jardinage",
        expires_at=utcnow() + timedelta(days=3),
    )
    session.add(remote)
    session.commit()
    assert proposals.expire_due(settings, utcnow() + timedelta(days=1), session=session) == 0
    assert proposals.expire_due(settings, utcnow() + timedelta(days=8), session=session) == 2
    session.commit()
    assert (row.state, remote.state) == ("expired", "expired")
    activities = outbox(session)
    assert [a["type"] for a in activities] == ["Create", "Update"]  # nothing for the remote one
    assert activities[-1]["object"]["proposalState"] == "expired"
    [note] = session.exec(select(Notification)).all()
    assert (note.user_id, note.kind, note.object_uri) == (alice.id, "proposal_expired", row.ap_id)
    assert proposals.expire_due(settings, utcnow() + timedelta(days=9), session=session) == 0


def test_a_demand_closes_on_agreement_an_offer_does_not(
    session: Session, settings: Settings, alice: User
) -> None:
    wanted = post(session, settings, alice, demand())
    offered = post(session, settings, alice, offer())
    assert proposals.close(settings, wanted, session=session) and wanted.state == "closed"
    assert not proposals.close(settings, offered, session=session) and offered.state == "open"
    assert outbox(session)[-1]["object"]["proposalState"] == "closed"


# --- listing ---------------------------------------------------------------------------------------------


def remote_row(session: Session, origin: str, title: str, **values: Any) -> Proposal:
    row = Proposal(
        ap_id=f"https://{origin}/proposals/{title.replace(' ', '-')}",
        origin=origin,
        author_uri=f"https://{origin}/users/someone",
        purpose=values.pop("purpose", "offer"),
        title=title,
        search_text=fold(title),
        **values,
    )
    session.add(row)
    session.commit()
    return row


def titles(session: Session, **filters: Any) -> list[str]:
    found = proposals.search(ProposalFilters(**filters), now=utcnow(), session=session)
    return [row.title for row in found.items]


def test_listing_filters(session: Session, settings: Settings, alice: User, bob: User) -> None:
    post(session, settings, alice, offer(title="Ménage et repassage", category="housework"))
    post(
        session,
        settings,
        bob,
        demand(title="Courses à Bagnolet", postal_code="93170", commune_name="Bagnolet"),
    )
    remote_row(
        session, "b.example", "Jardin a Lyon", category="gardening", commune_insee="69123", departement="69"
    )
    gone = post(session, settings, alice, offer(title="Cours de piano"))
    proposals.withdraw(settings, alice, gone, session=session)
    session.commit()
    every = ["Jardin a Lyon", "Courses à Bagnolet", "Ménage et repassage"]
    assert titles(session) == every  # newest first, withdrawn hidden
    assert titles(session, purpose="request") == ["Courses à Bagnolet"]
    assert titles(session, category="housework") == ["Ménage et repassage"]
    assert titles(session, commune="93006") == ["Courses à Bagnolet"]
    assert titles(session, departement="93") == ["Courses à Bagnolet", "Ménage et repassage"]
    assert titles(session, origin="remote") == ["Jardin a Lyon"]
    assert titles(session, origin="local") == ["Courses à Bagnolet", "Ménage et repassage"]
    assert titles(session, query="MENAGE") == ["Ménage et repassage"]
    assert titles(session, query="bagnolet courses") == ["Courses à Bagnolet"]
    assert titles(session, query="50%_") == []
    assert "Cours de piano" in titles(session, open_only=False)


def test_listing_hides_suspended_authors_blocked_domains_and_ended_lifetimes(
    session: Session, settings: Settings, alice: User, bob: User
) -> None:
    post(session, settings, alice, offer(title="Offre d'Alice"))
    post(session, settings, bob, offer(title="Offre de Bob"))
    remote_row(session, "spam.example:8443", "Offre distante")
    remote_row(session, "b.example", "Offre finie", expires_at=utcnow() - timedelta(minutes=1))
    assert titles(session) == ["Offre distante", "Offre de Bob", "Offre d'Alice"]
    user = session.get(User, bob.id)
    assert user is not None
    user.status = AccountStatus.SUSPENDED.value
    session.add(user)
    session.add(DomainBlock(domain="spam.example"))
    session.commit()
    assert titles(session) == ["Offre d'Alice"]
    [bobs] = [r for r in proposals.of_author(bob.pk, session=session)]
    assert not proposals.is_visible(bobs, session=session)


def test_paging(session: Session, settings: Settings) -> None:
    for n in range(45):
        remote_row(session, "b.example", f"Offre {n:02d}")
    first = proposals.search(ProposalFilters(), now=utcnow(), page=1, session=session)
    third = proposals.search(ProposalFilters(), now=utcnow(), page=3, session=session)
    assert len(first.items) == 20 and first.has_next
    assert [r.title for r in third.items] == [
        f"Offre {n:02d}" for n in range(4, -1, -1)
    ] and not third.has_next


def test_query_parameters_are_read_strictly() -> None:
    filters, page, errors = parse_filters(
        {"purpose": "request", "category": "gardening", "commune": "2a004", "origin": "remote", "page": "3"}
    )
    assert filters == ProposalFilters(
        purpose="request", category="gardening", commune="2A004", origin="remote"
    )
    assert (page, errors) == (3, {})
    _, page, errors = parse_filters({"purpose": "gift", "category": "x", "page": "0", "origin": "mars"})
    assert page == 1 and set(errors) == {"purpose", "category", "page", "origin"}
