"""Matching: the score and its reasons, who is never a candidate, and the notices of new demands and offers
(top N, opt-in, a daily cap, never twice for a pair), for this node's proposals and other nodes'."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.accounts import blocks
from node.accounts.models import AccountStatus, User
from node.activitypub.actors import local
from node.core import db
from node.core.jobs import job_name
from node.core.timeutil import utcnow
from node.market.models import Notification
from node.market.notifications import Kind
from node.search.jobs import MatchAlerts
from node.search.matching import alerts, candidates, suggestions
from node.search.matching.scoring import WEIGHTS, Need, Supply, reasons, score, text_terms
from node.settings import Settings
from node.worker import node_worker
from tests.support.accounts import make_user
from tests.support.matching import proposal_of, provider
from tests.support.search import indexed


def _notices(engine: Engine, user: User) -> list[Notification]:
    with Session(engine) as session:
        query = (
            select(Notification).where(col(Notification.user_id) == user.pk).order_by(col(Notification.id))
        )
        return list(session.exec(query).all())


def test_weights_sum_to_one() -> None:
    assert abs(sum(WEIGHTS.values()) - 1) < 1e-9


def test_out_of_the_providers_radius_is_no_match_and_reasons_are_given() -> None:
    need = Need("https://a.example/users/x", "gardening", text_terms("Tonte de pelouse"), 48.8634, 2.4488)
    near = Supply(
        "https://a.example/users/y", frozenset({"gardening"}), text_terms("jardinage"), 48.8688, 2.4226, 5
    )
    match = score(need, near)
    assert match is not None and match.category == "same"
    assert match.parts["text"] == 1 / 3  # of "tonte", "pelouse" and their synonym set: the synonym set
    assert reasons(match, "fr")[:2] == ["même service", "2 km"]
    assert reasons(match, "en")[-1] == "not evaluated yet"
    assert score(need, Supply(near.uri, near.categories, near.terms, 48.9298, 2.3592, 5)) is None  # 9.9 km


def test_a_new_demand_notifies_the_best_providers_never_twice(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    gardener = provider(engine, "gardener", categories=("gardening",), insee="93006")
    far = provider(engine, "faraway", categories=("gardening",), insee="69123", radius_km=50)
    cleaner = provider(engine, "cleaner", categories=("housework",))
    quiet = provider(engine, "quiet", categories=("gardening",), alerts=False)
    demand = proposal_of(engine, settings, alice, "Tonte de pelouse", category="gardening")
    with db.session_scope(engine, write=True) as session:
        assert alerts.match_new_demands(settings, utcnow(), session=session) == 1
        ranked = candidates.providers_for_demand(settings, demand, utcnow(), session=session)
    assert [r.user.username for r in ranked if r.user] == ["quiet", "gardener"]  # nearer first
    assert [n.kind for n in _notices(engine, gardener)] == ["match_demand"]
    assert not _notices(engine, far) and not _notices(engine, cleaner) and not _notices(engine, quiet)
    assert not _notices(engine, alice)
    with db.session_scope(engine, write=True) as session:
        assert alerts.match_new_demands(settings, utcnow(), session=session) == 0
        demand_row = session.get(type(demand), demand.id)
        assert demand_row is not None
        assert (
            alerts.notify_best(settings, demand_row, ranked, Kind.MATCH_DEMAND, utcnow(), session=session)
            == 0
        )


def test_exclusions_blocked_suspended_ineligible_author(settings: Settings, engine: Engine) -> None:
    bob = provider(engine, "bob", categories=("elderly-disabled-assistance", "housework"))
    volunteer = provider(engine, "volunteer", categories=("elderly-disabled-assistance",), status="volunteer")
    suspended = provider(engine, "suspended", categories=("elderly-disabled-assistance",))
    blocker = provider(engine, "blocker", categories=("elderly-disabled-assistance",))
    fine = provider(engine, "fine", categories=("elderly-disabled-assistance",), status="association")
    with db.session_scope(engine, write=True) as session:
        row = session.get(User, suspended.pk)
        assert row is not None
        row.status = AccountStatus.SUSPENDED.value
        blocks.block(
            blocker.pk, local.person(settings, blocker).uri, local.person(settings, bob).uri, session=session
        )
    demand = proposal_of(engine, settings, bob, "Aide au lever", category="elderly-disabled-assistance")
    with db.session_scope(engine) as session:
        ranked = candidates.providers_for_demand(settings, demand, utcnow(), session=session)
    assert [r.user.username for r in ranked if r.user] == ["fine"]
    assert volunteer.pk != fine.pk


def test_caps_top_n_and_per_day(settings: Settings, engine: Engine) -> None:
    capped = Settings(**{**settings.__dict__, "match_notify_top": 2, "match_alerts_per_day": 1})
    alice = make_user(engine, "alice")
    people = [provider(engine, f"p{n}", categories=("housework",)) for n in range(3)]
    proposal_of(engine, settings, alice, "Ménage hebdomadaire", category="housework")
    proposal_of(engine, settings, alice, "Grand ménage de printemps", category="housework")
    with db.session_scope(engine, write=True) as session:
        assert (
            alerts.match_new_demands(capped, utcnow(), session=session) == 3
        )  # 2, then 1 left under the cap
    assert sorted(len(_notices(engine, p)) for p in people) == [1, 1, 1]


def test_a_demand_from_another_node_notifies_a_local_provider(settings: Settings, engine: Engine) -> None:
    gardener = provider(engine, "gardener", categories=("gardening",))
    with Session(engine) as session:
        indexed(
            session, settings, "Taille de haies", purpose="request", category="gardening", origin="b.example"
        )
    assert "match alerts" in [job_name(job) for job in node_worker(settings, engine).jobs]
    job = MatchAlerts(settings, engine, interval=60)
    assert job.run_steps() == 1
    (notice,) = _notices(engine, gardener)
    assert notice.kind == "match_demand" and '"href": "/proposals/remote/' in notice.data


def test_a_new_offer_notifies_the_authors_of_matching_demands(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    with db.session_scope(engine, write=True) as session:
        suggestions.update_settings(alice, radius_km=None, alerts=True, session=session)
    proposal_of(engine, settings, alice, "Cours de maths pour collégien", category="tutoring")
    with db.session_scope(engine, write=True) as session:
        alerts.match_new_demands(settings, utcnow(), session=session)
    tutor = provider(engine, "tutor", categories=("tutoring",), insee="93006")
    offer = proposal_of(
        engine, settings, tutor, "Soutien scolaire en maths", purpose="offer", category="tutoring"
    )
    with db.session_scope(engine, write=True) as session:
        assert alerts.match_new_offers(settings, utcnow(), session=session) == 1
        found = suggestions.for_person(settings, alice, utcnow(), session=session)
        mine = suggestions.for_person(settings, tutor, utcnow(), session=session)
    assert [n.kind for n in _notices(engine, alice)] == ["match_offer"]
    assert [s.proposal.id for s in found.offers] == [offer.id]
    assert [s.proposal.title for s in mine.demands] == ["Cours de maths pour collégien"]
    assert utcnow() - timedelta(minutes=1) < _notices(engine, alice)[0].created_at
