"""How well a supply (a provider, or one offer) answers a need (a demand): the one place where the
matching's score is defined. Pure functions, no database.

The score is a weighted sum of eight parts, each between 0 and 1 (:data:`WEIGHTS`, summing to 1):

- ``category``: 1 when the supply provides the demand's category, :data:`RELATED_CATEGORY` when only one
  of the same group (e.g. both household tasks), 0 otherwise.
- ``text``: the share of the demand's words (French stems, the sector's synonyms as one word) found in
  the supply's words.
- ``distance``: 1 at the same place, falling linearly to 0 at the supply's radius; beyond the radius
  the pair is **no match at all**; 0 when a place is unknown.
- ``availability``: 1 when the demand's parts of the days of the week (morning, afternoon or evening of
  each day, :func:`~node.market.availability.slot`) meet the supply's, 0 when they do not (a provider
  available Tuesday mornings does not answer a demand for Tuesday at 18:00), :data:`UNKNOWN` when
  either side says nothing.
- ``reputation``: the mean evaluation pulled towards :data:`PRIOR_MEAN` by :data:`PRIOR_WEIGHT`
  pseudo-evaluations (few evaluations count little), from 1 → 0 to 5 → 1.
- ``price``: 1 when the supply's price is within the demand's budget (same currency and basis), falling
  linearly to 0 at :data:`OVER_BUDGET_ZERO` times the budget; :data:`UNKNOWN` when either says none.
- ``completion``: the share of the provider's finished agreements they completed (an agreement they
  cancelled counts against them, one the other party cancelled does not), pulled towards
  :data:`UNKNOWN` by one pseudo-agreement; :data:`UNKNOWN` with none.
- ``recency``: 1 when the provider was active in the last :data:`RECENT_DAYS` days, falling linearly to 0
  at :data:`STALE_DAYS`; :data:`UNKNOWN` when not known.

A pair with neither the category nor a word in common is no match; below :data:`MIN_SCORE` a match is
neither suggested nor notified. Who may be a candidate at all (eligibility, blocks, the author) is
decided before scoring (:mod:`node.search.matching.candidates`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache, lru_cache

from node.catalog.categories import UnknownCategory, by_slug
from node.core.textsearch import stems
from node.places.gazetteer import great_circle_km
from node.search.synonyms import sets

__all__ = [
    "MIN_SCORE",
    "WEIGHTS",
    "forget_texts",
    "Match",
    "Need",
    "Price",
    "Supply",
    "reasons",
    "score",
    "text_terms",
    "total",
    "reputation_part",
    "price_part",
    "completion_part",
    "recency_part",
]

WEIGHTS: dict[str, float] = {
    "category": 0.30,
    "text": 0.25,
    "distance": 0.15,
    "availability": 0.05,
    "reputation": 0.08,
    "price": 0.07,
    "completion": 0.05,
    "recency": 0.05,
}
RELATED_CATEGORY = 0.4
UNKNOWN = 0.5
PRIOR_MEAN = 3.5
PRIOR_WEIGHT = 2
MIN_SCORE = 0.35
OVER_BUDGET_ZERO = 1.5
RECENT_DAYS = 30
STALE_DAYS = 365

_TAG = re.compile(r"<[^>]*>")
TEXT_CACHE = 50_000  # texts whose stems are kept (a few hundred bytes each)


@cache
def _synonym_keys() -> tuple[tuple[str, tuple[frozenset[str], ...]], ...]:
    return tuple((f"~{n}", tuple(frozenset(t) for t in s.stem_keys())) for n, s in enumerate(sets()))


@lru_cache(maxsize=TEXT_CACHE)
def _stems_of(text: str) -> frozenset[str]:
    return frozenset(stems(_TAG.sub(" ", text)))


def forget_texts() -> None:
    """Empty the memory of texts' stems (a measurement of the cold cost starts with it)."""
    _stems_of.cache_clear()


def text_terms(*texts: str) -> frozenset[str]:
    """The words of ``texts`` (HTML tags dropped) as French stems, plus one key per synonym set one of
    whose terms is there, so that "tonte" meets "jardinage". Each text's stems are kept in memory (the
    same bios and offers are read again at every pass of the job)."""
    found: set[str] = set()
    for text in texts:
        found |= _stems_of(text)
    for key, terms in _synonym_keys():
        if any(term <= found for term in terms):
            found.add(key)
    return frozenset(found)


@dataclass(frozen=True)
class Price:
    """An amount, its currency (``EUR`` or ``HOUR``, time tokens) and basis (``per_hour`` or ``total``)."""

    amount: Decimal
    currency: str
    basis: str


def price_of(amount: Decimal | None, currency: str | None, basis: str | None) -> Price | None:
    """A proposal's price columns as a :class:`Price` (None when any is missing)."""
    if amount is None or not currency or not basis:
        return None
    return Price(Decimal(amount), currency, basis)


@dataclass(frozen=True)
class Need:
    """A demand, as matching sees it."""

    author_uri: str
    category: str | None
    terms: frozenset[str]
    lat: float | None
    lon: float | None
    slots: frozenset[int] | None = None  # parts of days of the week (availability.slot)
    budget: Price | None = None


@dataclass(frozen=True)
class Supply:
    """A provider (their profile and open offers) or one offer, as matching sees it."""

    uri: str
    categories: frozenset[str]
    terms: frozenset[str]
    lat: float | None
    lon: float | None
    radius_km: float
    slots: frozenset[int] | None = None
    reputation_mean: Decimal | None = None
    reputation_count: int = 0
    price: Price | None = None
    completed: int = 0  # agreements completed as the provider
    finished: int = 0  # completed, plus those the provider cancelled
    last_active: datetime | None = None


@dataclass(frozen=True)
class Match:
    """A scored pair: the total, its parts (before weighting) and what the reasons are made of."""

    score: float
    parts: dict[str, float] = field(default_factory=dict)
    category: str = "none"  # same | related | none
    distance_km: float | None = None
    common_slots: tuple[int, ...] = ()
    reputation_mean: Decimal | None = None
    reputation_count: int = 0
    price: Price | None = None
    within_budget: bool | None = None  # None: not compared
    completed: int = 0
    finished: int = 0
    idle_days: int | None = None


def _group(slug: str) -> str | None:
    try:
        return by_slug(slug).group.value
    except UnknownCategory:
        return None


def _category(need: Need, supply: Supply) -> tuple[float, str]:
    if need.category is None:
        return 0.0, "none"
    if need.category in supply.categories:
        return 1.0, "same"
    group = _group(need.category)
    if group is not None and any(_group(c) == group for c in supply.categories):
        return RELATED_CATEGORY, "related"
    return 0.0, "none"


def reputation_part(mean: Decimal | None, count: int) -> float:
    total = float(mean or 0) * count + PRIOR_MEAN * PRIOR_WEIGHT
    pulled = total / (count + PRIOR_WEIGHT)
    return max(0.0, min(1.0, (pulled - 1) / 4))


def price_part(budget: Price | None, price: Price | None) -> tuple[float, bool | None]:
    if budget is None or price is None or (budget.currency, budget.basis) != (price.currency, price.basis):
        return UNKNOWN, None
    if price.amount <= budget.amount:
        return 1.0, True
    if budget.amount <= 0:
        return 0.0, False
    over = float(price.amount / budget.amount) - 1
    return max(0.0, 1.0 - over / (OVER_BUDGET_ZERO - 1)), False


def completion_part(completed: int, finished: int) -> float:
    if not finished:
        return UNKNOWN
    return (completed + UNKNOWN) / (finished + 1)


def recency_part(idle_days: int | None) -> float:
    if idle_days is None:
        return UNKNOWN
    if idle_days <= RECENT_DAYS:
        return 1.0
    return max(0.0, 1.0 - (idle_days - RECENT_DAYS) / (STALE_DAYS - RECENT_DAYS))


_W = tuple(WEIGHTS.values())


def total(
    category: float,
    text: float,
    distance: float,
    availability: float,
    reputation: float,
    price: float,
    completion: float,
    recency: float,
) -> float:
    """The score from its eight parts (in the order of :data:`WEIGHTS`), rounded: the one sum both
    :func:`score` and the ranking of the profiles table (:mod:`~node.search.matching.ranking`) use, so
    that they agree to the last bit."""
    w = _W
    return round(
        w[0] * category
        + w[1] * text
        + w[2] * distance
        + w[3] * availability
        + w[4] * reputation
        + w[5] * price
        + w[6] * completion
        + w[7] * recency,
        4,
    )


def score(need: Need, supply: Supply, now: datetime | None = None) -> Match | None:
    """The match of ``supply`` for ``need``, or None when it is none (out of the supply's radius, or
    nothing in common); the recency of activity counts only when ``now`` is given."""
    category, kind = _category(need, supply)
    text = len(need.terms & supply.terms) / len(need.terms) if need.terms else 0.0
    if category == 0.0 and text == 0.0:
        return None
    distance_km: float | None = None
    distance = 0.0
    if None not in (need.lat, need.lon, supply.lat, supply.lon):
        assert need.lat is not None and need.lon is not None
        assert supply.lat is not None and supply.lon is not None
        distance_km = great_circle_km(need.lat, need.lon, supply.lat, supply.lon)
        if distance_km > supply.radius_km:
            return None
        distance = 1.0 - distance_km / supply.radius_km if supply.radius_km > 0 else 1.0
    common: tuple[int, ...] = ()
    if need.slots is None or supply.slots is None:
        availability = UNKNOWN
    else:
        common = tuple(sorted(need.slots & supply.slots))
        availability = 1.0 if common else 0.0
    price, within = price_part(need.budget, supply.price)
    idle: int | None = None
    if now is not None and supply.last_active is not None:
        idle = max(0, (now - supply.last_active).days)
    parts = {
        "category": category,
        "text": text,
        "distance": distance,
        "availability": availability,
        "reputation": reputation_part(supply.reputation_mean, supply.reputation_count),
        "price": price,
        "completion": completion_part(supply.completed, supply.finished),
        "recency": recency_part(idle),
    }
    return Match(
        score=total(*parts.values()),
        parts=parts,
        category=kind,
        distance_km=distance_km,
        common_slots=common,
        reputation_mean=supply.reputation_mean,
        reputation_count=supply.reputation_count,
        price=supply.price,
        within_budget=within,
        completed=supply.completed,
        finished=supply.finished,
        idle_days=idle,
    )


_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_PARTS = {  # the parts of a day of availability.PARTS, in their order
    "fr": ("matin", "après-midi", "soir"),
    "en": ("mornings", "afternoons", "evenings"),
}
_WORDS = {
    "fr": {
        "same": "même service",
        "related": "service voisin",
        "here": "même commune",
        "km": "{km} km",
        "days": "disponible le {days}",
        "rated": "{mean}/5 sur {count} évaluation{s}",
        "new": "pas encore évalué",
        "within": "dans votre budget ({price})",
        "over": "au-dessus de votre budget ({price})",
        "completed": "{completed} service{s} mené{s} à bien sur {finished}",
        "today": "actif ces derniers jours",
        "idle": "actif il y a {n} jours",
        "idle_months": "actif il y a {n} mois",
        "per_hour": "/h",
        "hours": "{amount} h",
        "and": " et ",
    },
    "en": {
        "same": "same service",
        "related": "related service",
        "here": "same commune",
        "km": "{km} km away",
        "days": "available {days}",
        "rated": "{mean}/5 from {count} evaluation{s}",
        "new": "not evaluated yet",
        "within": "within your budget ({price})",
        "over": "over your budget ({price})",
        "completed": "completed {completed} of {finished} service{s}",
        "today": "active in the last few days",
        "idle": "active {n} days ago",
        "idle_months": "active {n} months ago",
        "per_hour": "/h",
        "hours": "{amount} h",
        "and": " and ",
    },
}


def _number(value: float | Decimal, lang: str) -> str:
    text = f"{float(value):.1f}".removesuffix(".0")
    return text.replace(".", ",") if lang == "fr" else text


def _join(items: Iterable[str], lang: str) -> str:
    items = list(items)
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + _WORDS[lang]["and"] + items[-1]


def _money(price: Price, lang: str) -> str:
    words = _WORDS[lang]
    amount = f"{price.amount:.2f}".removesuffix(".00")
    amount = amount.replace(".", ",") if lang == "fr" else amount
    text = words["hours"].format(amount=amount) if price.currency == "HOUR" else f"{amount}\u00a0€"
    return text + (words["per_hour"] if price.basis == "per_hour" else "")


def _activity(idle_days: int, lang: str) -> str:
    words = _WORDS[lang]
    if idle_days <= 7:
        return words["today"]
    if idle_days < 60:
        return words["idle"].format(n=idle_days)
    return words["idle_months"].format(n=idle_days // 30)


def _when(slots: Iterable[int], lang: str) -> str:
    """Parts of days of the week (:func:`~node.market.availability.slot`) in words: "mardi matin et
    jeudi", "Tuesday mornings and Thursdays"."""
    days: dict[int, list[int]] = {}
    for slot in sorted(slots):
        days.setdefault(slot // 3, []).append(slot % 3)
    found = []
    for day, parts in days.items():
        if len(parts) == 3:
            found.append(_DAYS[lang][day] + ("s" if lang == "en" else ""))
        else:
            found.append(_DAYS[lang][day] + " " + _join((_PARTS[lang][p] for p in parts), lang))
    return _join(found, lang)


def reasons(match: Match, lang: str) -> list[str]:
    """Why a match was made, in French or English: "3 km", "disponible le mardi", "4,8/5 sur 12
    évaluations"..."""
    lang = "fr" if lang.startswith("fr") else "en"
    words = _WORDS[lang]
    found: list[str] = []
    if match.category in ("same", "related"):
        found.append(words[match.category])
    if match.distance_km is not None:
        km = match.distance_km
        found.append(words["here"] if km < 0.5 else words["km"].format(km=_number(km, lang)))
    if match.common_slots:
        found.append(words["days"].format(days=_when(match.common_slots, lang)))
    if match.reputation_count and match.reputation_mean is not None:
        plural = "s" if match.reputation_count > 1 else ""
        found.append(
            words["rated"].format(
                mean=_number(match.reputation_mean, lang), count=match.reputation_count, s=plural
            )
        )
    else:
        found.append(words["new"])
    if match.within_budget is not None and match.price is not None:
        found.append(
            words["within" if match.within_budget else "over"].format(price=_money(match.price, lang))
        )
    if match.finished:
        plural = "s" if (match.completed if lang == "fr" else match.finished) > 1 else ""
        found.append(words["completed"].format(completed=match.completed, finished=match.finished, s=plural))
    if match.idle_days is not None:
        found.append(_activity(match.idle_days, lang))
    return found
