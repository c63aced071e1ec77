"""The ranking from the profiles table reads the accounts of its best candidates only, a slice at a time
(``candidates.iter_providers``): on generated data (the labelled corpus's providers three times over,
with other radii and opt-ins, some suspended or blocking the demand's author after the table was
built), its first results are the very ones of scoring every provider from their rows and excluding
before (the path of a person's own suggestions), in the same order and with the same scores."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.accounts.blocks import PersonBlock
from node.accounts.models import AccountStatus, User
from node.catalog.categories import UnknownCategory, by_slug, in_group
from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.search.matching import candidates, profiles, ranking
from node.search.matching.candidates import Ranked
from node.search.matching.models import MatchSettings
from node.settings import Settings
from tests.support.matching import corpus_demand, many_providers

CORPUS = Path(__file__).resolve().parents[1] / "data" / "matching" / "corpus.json"
FIRST = 3  # a slice this small makes the ranking read many slices
LIMIT = 12


def _group(category: str) -> set[str]:
    try:
        return {c.slug for c in in_group(by_slug(category).group)}
    except UnknownCategory:
        return {category}


def _seen(ranked: list[Ranked]) -> list[tuple[str, float, float | None, list[tuple[str, float]]]]:
    return [
        (r.user.username, r.match.score, r.match.distance_km, sorted(r.match.parts.items()))
        for r in ranked
        if r.user is not None
    ]


def _reference(
    settings: Settings, demand: Proposal, now: datetime, *, session: Session, alerts_only: bool
) -> list[Ranked]:
    """Every provider scored from their rows, then the first :data:`LIMIT`; the table's pre-filter keeps
    the providers of a category of the demand's group, so does this."""
    people = candidates.people_of_node(settings, now, session=session)
    assert demand.category is not None
    group = _group(demand.category)
    people = [p for p in people if p.supply.categories & group]
    ranked = candidates.providers_for_demand(
        settings, demand, now, session=session, people=people, alerts_only=alerts_only
    )
    return ranked[:LIMIT]


def test_the_best_slices_give_the_same_top_results_as_scoring_everyone(
    settings: Settings, engine: Engine
) -> None:
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    rng = random.Random(10)
    people: list[dict[str, Any]] = []
    for copy in range(3):
        for person in corpus["providers"]:
            radius = rng.choice([person["radius_km"], 5, 15, 30])
            people.append({**person, "username": f"{person['username']}-{copy}", "radius_km": radius})
    demands = rng.sample(corpus["demands"], 30)
    with Session(engine) as session:
        made = many_providers(session, settings, people)
        session.flush()
        for user in made.values():
            if rng.random() < 0.3:  # some have alerts off
                row = session.get(MatchSettings, user.pk)
                assert row is not None
                row.alerts = False
                session.add(row)
        rows = [corpus_demand(settings, d) for d in demands]
        session.add_all(rows)
        session.flush()
        users = [user.pk for user in made.values()]
        session.commit()
        ids = [row.id for row in rows]
        authors = [row.author_uri for row in rows]
    now = utcnow()
    with Session(engine) as session:
        profiles.refresh(settings, now, session=session)
        session.commit()
    with Session(engine) as session:  # after the table was built: it still has them, the accounts say no
        for user_id in rng.sample(users, 20):
            found = session.get(User, user_id)
            assert found is not None
            found.status = AccountStatus.SUSPENDED.value
            session.add(found)
        for user_id in rng.sample(users, 40):
            session.add(PersonBlock(user_id=user_id, blocked_uri=rng.choice(authors)))
        session.commit()
    ranking.forget()
    compared = cut = 0
    with Session(engine) as session:
        for demand_id in ids:
            demand = session.get(Proposal, demand_id)
            assert demand is not None
            for alerts_only in (False, True):
                best = candidates.iter_providers(
                    settings,
                    demand,
                    now,
                    session=session,
                    refreshed=True,
                    alerts_only=alerts_only,
                    first=FIRST,
                )
                sliced = [r for _, r in zip(range(LIMIT), best, strict=False)]
                expected = _reference(settings, demand, now, session=session, alerts_only=alerts_only)
                assert _seen(sliced) == _seen(expected), demand.title
                limited = candidates.providers_for_demand(
                    settings,
                    demand,
                    now,
                    session=session,
                    refreshed=True,
                    alerts_only=alerts_only,
                    limit=LIMIT,
                )
                assert _seen(limited) == _seen(expected)
                whole = candidates.providers_for_demand(
                    settings, demand, now, session=session, refreshed=True, alerts_only=alerts_only
                )
                assert _seen(whole[:LIMIT]) == _seen(expected)
                compared += len(expected)
                cut += len(whole) > LIMIT
        blocked = session.exec(select(col(PersonBlock.user_id))).all()
    assert compared > 200 and cut > 20 and blocked  # the lists were long enough for the cut to matter
