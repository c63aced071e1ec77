"""The ranking scores in full only the candidates whose cheap upper bound could put them among the next
ones (``ranking.ranked``): on random profiles (places, radii, categories, words, parts of days,
reputations, prices, agreements, activity, some unknown) and random demands, it gives every candidate in
the very order, with the very scores, of scoring all of them and sorting (``ranking.scored``), whatever
the size of its slices; and its distance bound is never above the great-circle distance."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from itertools import chain

from sqlalchemy import Engine
from sqlmodel import Session

from node.accounts.models import User
from node.catalog.categories import by_slug, in_group
from node.catalog.eligibility import may_provide
from node.catalog.statuses import ProviderStatus
from node.core.timeutil import utcnow
from node.places.gazetteer import great_circle_km
from node.search.matching import profiles, ranking
from node.search.matching.scoring import Need, Price, Supply
from node.search.matching.supplies import Person
from node.settings import Settings

WORDS = [f"mot{n}" for n in range(14)]
STATUSES = [s.value for s in ProviderStatus]


def _eligible(category: str | None, status: str) -> bool:
    return may_provide(category, status)


def _price(rng: random.Random) -> Price | None:
    if rng.random() < 0.3:
        return None
    unit = rng.choice([("EUR", "per_hour"), ("EUR", "total"), ("HOUR", "total")])
    return Price(Decimal(rng.choice(["8", "12.50", "15", "18", "20", "25", "40"])), *unit)


def _place(rng: random.Random) -> tuple[float | None, float | None]:
    if rng.random() < 0.1:
        return None, None
    return 48.85 + rng.uniform(-0.4, 0.4), 2.45 + rng.uniform(-0.6, 0.6)


def _slots(rng: random.Random) -> frozenset[int] | None:
    return None if rng.random() < 0.3 else frozenset(rng.sample(range(21), rng.randint(1, 8)))


def test_the_distance_bound_is_below_the_great_circle_distance() -> None:
    rng = random.Random(3)
    for _ in range(20_000):
        lat, lon = rng.uniform(-75, 75), rng.uniform(-179, 179)
        other_lat = lat + rng.uniform(-4, 4)
        other_lon = lon + rng.uniform(-6, 6)
        exact = great_circle_km(lat, lon, other_lat, other_lon)
        low = ranking.low_km(lat, lon, other_lat, other_lon)
        assert low <= exact
        if abs(lat) < 60 and exact < 300:
            assert low >= 0.97 * exact  # close enough to be worth it
    assert ranking.low_km(10, 179.9, 10, -179.9) == 0.0  # over the antimeridian: no bound


def test_the_bounded_ranking_gives_everyone_in_the_order_of_scoring_everyone(
    settings: Settings, engine: Engine
) -> None:
    rng = random.Random(11)
    group = list(in_group(by_slug("elderly-disabled-assistance").group))
    slugs = [c.slug for c in group]
    now = utcnow()
    with Session(engine) as session:
        users = [User(username=f"b{n}", password_hash="x", offers_services=True) for n in range(400)]
        session.add_all(users)
        session.flush()
        people = []
        for user in users:
            lat, lon = _place(rng)
            mean = None if rng.random() < 0.3 else Decimal(rng.choice(["2.5", "3", "4.2", "4.8", "5"]))
            finished = rng.randint(0, 6)
            active = None if rng.random() < 0.2 else now - timedelta(days=rng.randint(0, 500))
            supply = Supply(
                uri=f"https://b.example/users/{user.username}",
                categories=frozenset(rng.sample(slugs, rng.randint(1, min(3, len(slugs))))),
                terms=frozenset(rng.sample(WORDS, rng.randint(0, 8))),
                lat=lat,
                lon=lon,
                radius_km=float(rng.choice([0, 1, 5, 10, 15, 30, 200])),
                slots=_slots(rng),
                reputation_mean=mean,
                reputation_count=0 if mean is None else rng.randint(1, 30),
                price=_price(rng),
                completed=rng.randint(0, finished),
                finished=finished,
                last_active=active,
            )
            user.provider_status = rng.choice(STATUSES)
            people.append(Person(user=user, uri=supply.uri, supply=supply, alerts=rng.random() < 0.7))
        profiles.replace_all(people, now, session=session)
        session.commit()
        ids = [user.pk for user in users]
    ranking.forget()
    compared = pruned = 0
    with Session(engine) as session:
        for _ in range(60):
            lat, lon = _place(rng)
            need = Need(
                author_uri="https://a.example/users/x",
                category=rng.choice(slugs + [None]),
                terms=frozenset(rng.sample(WORDS, rng.randint(0, 5))),
                lat=lat,
                lon=lon,
                slots=_slots(rng),
                budget=_price(rng),
            )
            rows = profiles.nearby(need, session=session, alerts_only=rng.random() < 0.5)
            ranking.load(rows, session=session)
            author = rng.choice(ids)
            everyone = sorted(ranking.scored(need, rows, now, author_id=author, eligible=_eligible))
            expected = [entry[:4] for entry in everyone]
            for first in (1, 3, 20, 1000):
                slices = ranking.ranked(need, rows, now, author_id=author, eligible=_eligible, first=first)
                head = next(slices, [])
                assert [entry[:4] for entry in head] == expected[:first]
                assert [entry[:4] for entry in chain(head, *slices)] == expected
            compared += len(expected)
            pruned += len(expected) > 20
    assert compared > 1000 and pruned > 20  # long lists, where the bound has something to cut
