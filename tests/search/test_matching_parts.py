"""Matching's price, completion and recency parts, with their reasons, and the providers' profiles table
(``match_profiles``) kept up to date between passes: a change of radius, a new offer, a suspension are
seen by the next ranking."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session

from node.accounts import service as accounts
from node.accounts.models import User
from node.activitypub.actors import local
from node.core import db
from node.core.timeutil import utcnow
from node.market.models import Agreement, Proposal
from node.search.matching import candidates, profiles, suggestions
from node.search.matching.candidates import Ranked
from node.search.matching.scoring import Need, Price, Supply, reasons, score, text_terms
from node.settings import Settings
from tests.support.accounts import make_user
from tests.support.matching import provider
from tests.support.search import indexed

HERE = (48.8634, 2.4488)  # Montreuil


def _priced(engine: Engine, settings: Settings, user: User, title: str, purpose: str, price: str) -> Proposal:
    """An open gardening proposal of ``user`` at ``price`` euros an hour (a budget for a demand)."""
    with Session(engine) as session:
        row = indexed(
            session,
            settings,
            title,
            purpose=purpose,
            category="gardening",
            price=Decimal(price),
            author_uri=local.person(settings, user).uri,
        )
        row.local_author_id = user.pk
        session.add(row)
        session.commit()
        session.refresh(row)
        return row


def _rank(settings: Settings, engine: Engine, demand: Proposal) -> list[Ranked]:
    with db.session_scope(engine, write=True) as session:
        return candidates.providers_for_demand(settings, demand, utcnow(), session=session)


def _names(ranked: list[Ranked]) -> list[str]:
    return [r.user.username for r in ranked if r.user is not None]


def test_over_budget_scores_below_within_budget_with_reasons() -> None:
    budget = Price(Decimal(20), "EUR", "per_hour")
    need = Need("https://a.example/users/x", "gardening", text_terms("Tonte"), *HERE, budget=budget)

    def supply(amount: str) -> Supply:
        price = Price(Decimal(amount), "EUR", "per_hour")
        return Supply(
            "https://a.example/users/y", frozenset({"gardening"}), frozenset(), *HERE, 10, price=price
        )

    within, over, far_over = score(need, supply("18")), score(need, supply("25")), score(need, supply("40"))
    assert within is not None and over is not None and far_over is not None
    assert within.parts["price"] == 1 and 0 < over.parts["price"] < 1 and far_over.parts["price"] == 0
    assert within.score > over.score > far_over.score
    assert "dans votre budget (18\u00a0€/h)" in reasons(within, "fr")
    assert "over your budget (25\u00a0€/h)" in reasons(over, "en")
    hours = Supply(
        "u", frozenset({"gardening"}), frozenset(), *HERE, 10, price=Price(Decimal(1), "HOUR", "per_hour")
    )
    unknown = score(need, hours)  # time tokens are not compared with euros
    assert unknown is not None and unknown.parts["price"] == 0.5 and unknown.within_budget is None


def test_a_provider_within_budget_ranks_above_one_over_it(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    dear = provider(engine, "dear", categories=("gardening",))
    cheap = provider(engine, "cheap", categories=("gardening",))
    _priced(engine, settings, dear, "Tonte et jardinage", "offer", "32")
    _priced(engine, settings, cheap, "Tonte et jardinage", "offer", "18")
    demand = _priced(engine, settings, alice, "Tonte de pelouse", "request", "20")
    ranked = _rank(settings, engine, demand)
    assert _names(ranked) == ["cheap", "dear"]  # dear was created first: the tie would go to them
    assert "dans votre budget (18\u00a0€/h)" in reasons(ranked[0].match, "fr")
    assert "au-dessus de votre budget (32\u00a0€/h)" in reasons(ranked[1].match, "fr")


def _agreements(
    engine: Engine, settings: Settings, user: User, states: list[str], *, by_provider: bool
) -> None:
    uri = local.person(settings, user).uri
    with db.session_scope(engine, write=True) as session:
        for state in states:
            session.add(
                Agreement(
                    ap_id=f"https://a.example/agreements/{uuid.uuid4()}",
                    proposal_ap_id=f"https://a.example/proposals/{uuid.uuid4()}",
                    provider_uri=uri,
                    requester_uri="https://b.example/users/someone",
                    local_provider_id=user.pk,
                    category="gardening",
                    state=state,
                    cancelled_by_uri=(uri if by_provider else "https://b.example/users/someone")
                    if state == "cancelled"
                    else None,
                )
            )


def test_a_provider_who_completes_ranks_above_one_who_cancels(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    canceller = provider(engine, "canceller", categories=("gardening",))
    reliable = provider(engine, "reliable", categories=("gardening",))
    unlucky = provider(engine, "unlucky", categories=("gardening",))
    _agreements(engine, settings, canceller, ["cancelled", "cancelled", "completed"], by_provider=True)
    _agreements(
        engine, settings, reliable, ["completed", "completed", "completed", "accepted"], by_provider=True
    )
    # cancelled by the other party: not held against the provider
    _agreements(engine, settings, unlucky, ["cancelled", "cancelled", "completed"], by_provider=False)
    demand = _priced(engine, settings, alice, "Tonte de pelouse", "request", "20")
    ranked = _rank(settings, engine, demand)
    assert _names(ranked) == ["reliable", "unlucky", "canceller"]
    assert "3 services menés à bien sur 3" in reasons(ranked[0].match, "fr")
    assert "1 service mené à bien sur 1" in reasons(ranked[1].match, "fr")
    assert "completed 1 of 3 services" in reasons(ranked[2].match, "en")


def test_a_provider_active_lately_ranks_above_one_long_silent(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    silent = provider(engine, "silent", categories=("gardening",))
    provider(engine, "lively", categories=("gardening",))
    with db.session_scope(engine, write=True) as session:
        row = session.get(User, silent.pk)
        assert row is not None
        row.updated_at = utcnow() - timedelta(days=300)
    demand = _priced(engine, settings, alice, "Tonte de pelouse", "request", "20")
    ranked = _rank(settings, engine, demand)
    assert _names(ranked) == ["lively", "silent"]
    assert reasons(ranked[0].match, "fr")[-1] == "actif ces derniers jours"
    assert reasons(ranked[1].match, "fr")[-1] == "actif il y a 10 mois"
    assert reasons(ranked[1].match, "en")[-1] == "active 10 months ago"


def test_the_profiles_table_follows_changes(settings: Settings, engine: Engine) -> None:
    alice = make_user(engine, "alice")
    provider(engine, "near", categories=("gardening",), insee="93048")
    other = provider(engine, "other", categories=("gardening",), insee="93006", radius_km=10)
    demand = _priced(engine, settings, alice, "Tonte de pelouse", "request", "20")
    assert _names(_rank(settings, engine, demand)) == ["near", "other"]
    with db.session_scope(engine, write=True) as session:
        suggestions.update_settings(other, radius_km=1, alerts=True, session=session)  # Bagnolet: 2 km off
    assert _names(_rank(settings, engine, demand)) == ["near"]
    with db.session_scope(engine, write=True) as session:
        suggestions.update_settings(other, radius_km=None, alerts=True, session=session)
    _priced(engine, settings, other, "Tonte", "offer", "15")  # a new offer: now within budget
    ranked = _rank(settings, engine, demand)
    assert _names(ranked) == ["other", "near"]
    assert "dans votre budget (15\u00a0€/h)" in reasons(ranked[0].match, "fr")
    with db.session_scope(engine, write=True) as session:
        row = session.get(User, other.pk)
        assert row is not None
        accounts.suspend(row, session=session)
    assert _names(_rank(settings, engine, demand)) == ["near"]
    with db.session_scope(engine, write=True) as session:
        assert session.get(profiles.MatchProfile, other.pk) is None  # the suspended person's row is gone
