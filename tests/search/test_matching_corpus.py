"""Precision at 5 of the matching on a labelled French corpus (tests/data/matching/corpus.json, made by
scripts/matching_corpus.py): 60 providers with their offers, 240 demands received from another node,
each labelled with the providers who do that very task within their radius and may provide it.

For each demand with at least one relevant provider: the share of the first five providers ranked by the
matcher who are relevant (out of at most five, fewer when fewer are relevant), averaged. The floor is
checked to be out of reach of a ranking that does not score: random, or every provider of the category
in no particular order."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.search.matching import candidates, profiles
from node.settings import Settings
from tests.support.matching import corpus_demand, many_providers

CORPUS = Path(__file__).resolve().parents[1] / "data" / "matching" / "corpus.json"
FLOOR = 0.85


def precision_at_5(demands: Sequence[dict[str, Any]], rank: Callable[[dict[str, Any]], list[str]]) -> float:
    scores = []
    for demand in demands:
        relevant = set(demand["relevant"])
        if relevant:
            top = rank(demand)[:5]
            scores.append(len(relevant & set(top)) / min(5, len(relevant)))
    return sum(scores) / len(scores)


def test_precision_at_5_on_the_labelled_corpus(settings: Settings, engine: Engine) -> None:
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    people = corpus["providers"]
    with Session(engine) as session:
        many_providers(session, settings, people)
        demands = {demand["key"]: corpus_demand(settings, demand) for demand in corpus["demands"]}
        session.add_all(demands.values())
        session.commit()
        ids = {key: row.id for key, row in demands.items()}
    now = utcnow()
    with Session(engine) as session:
        profiles.refresh(settings, now, session=session)  # the table the job ranks from

        def matched(demand: dict[str, Any]) -> list[str]:
            row = session.get(Proposal, ids[demand["key"]])
            assert row is not None
            ranked = candidates.providers_for_demand(settings, row, now, session=session, refreshed=True)
            return [r.user.username for r in ranked if r.user is not None]

        score = precision_at_5(corpus["demands"], matched)
    shuffled = random.Random(1)

    def at_random(_demand: dict[str, Any]) -> list[str]:
        return shuffled.sample([p["username"] for p in people], len(people))

    def same_category(demand: dict[str, Any]) -> list[str]:
        return [p["username"] for p in people if demand["category"] in p["categories"]]

    baselines = {
        "random": precision_at_5(corpus["demands"], at_random),
        "category": precision_at_5(corpus["demands"], same_category),
    }
    print(f"precision@5: matching {score:.3f}, " + ", ".join(f"{k} {v:.3f}" for k, v in baselines.items()))
    assert all(value < FLOOR for value in baselines.values()), baselines
    assert score >= FLOOR, score


def test_on_the_corpus_a_twin_over_budget_ranks_below_its_original(
    settings: Settings, engine: Engine
) -> None:
    """Every provider of the corpus has a twin (same profile, offer and place) stored before them, at
    32 €/h where they ask 18 €/h, for demands with a budget of 20 €/h: wherever both are ranked, the
    original comes first (without the price, the tie would go to the twin, the older account)."""
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    twins = [{**p, "username": f"{p['username']}-cher"} for p in corpus["providers"]]
    with Session(engine) as session:
        made = many_providers(session, settings, twins + corpus["providers"])
        session.flush()
        for offer in session.exec(select(Proposal).where(col(Proposal.purpose) == "offer")).all():
            twin = any(u.pk == offer.local_author_id for n, u in made.items() if n.endswith("-cher"))
            offer.price_amount = Decimal(32 if twin else 18)
            offer.price_currency, offer.price_basis = "EUR", "per_hour"
        demands = []
        for demand in corpus["demands"]:
            row = corpus_demand(settings, demand)
            row.price_amount, row.price_currency, row.price_basis = Decimal(20), "EUR", "per_hour"
            demands.append(row)
        session.add_all(demands)
        session.commit()
        ids = [row.id for row in demands]
    now = utcnow()
    compared = 0
    with Session(engine) as session:
        profiles.refresh(settings, now, session=session)
        for demand_id in ids:
            found = session.get(Proposal, demand_id)
            assert found is not None
            ranked = candidates.providers_for_demand(settings, found, now, session=session, refreshed=True)
            names = [r.user.username for r in ranked if r.user is not None]
            for name in names:
                if f"{name}-cher" in names:
                    assert names.index(name) < names.index(f"{name}-cher"), (found.title, names)
                    compared += 1
    assert compared > 200  # the pairs were really there to compare
