"""How well a supply (a provider, or one offer) answers a need (a demand): the one place where the
matching's score is defined. Pure functions, no database.

The score is a weighted sum of five parts, each between 0 and 1 (:data:`WEIGHTS`, summing to 1):

- ``category``: 1 when the supply provides the demand's category, :data:`RELATED_CATEGORY` when only one
  of the same group (e.g. both household tasks), 0 otherwise.
- ``text``: the share of the demand's words (French stems, the sector's synonyms as one word) found in
  the supply's words.
- ``distance``: 1 at the same place, falling linearly to 0 at the supply's radius; beyond the radius
  the pair is **no match at all**; 0 when a place is unknown.
- ``availability``: 1 when the demand's days of the week meet the supply's, 0 when they do not,
  :data:`UNKNOWN` when either side says nothing.
- ``reputation``: the mean evaluation pulled towards :data:`PRIOR_MEAN` by :data:`PRIOR_WEIGHT`
  pseudo-evaluations (few evaluations count little), from 1 → 0 to 5 → 1.

A pair with neither the category nor a word in common is no match; below :data:`MIN_SCORE` a match is
neither suggested nor notified. Who may be a candidate at all (eligibility, blocks, the author) is
decided before scoring (:mod:`node.search.matching.candidates`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    "Supply",
    "reasons",
    "score",
    "text_terms",
]

WEIGHTS: dict[str, float] = {
    "category": 0.35,
    "text": 0.30,
    "distance": 0.20,
    "availability": 0.05,
    "reputation": 0.10,
}
RELATED_CATEGORY = 0.4
UNKNOWN = 0.5
PRIOR_MEAN = 3.5
PRIOR_WEIGHT = 2
MIN_SCORE = 0.35

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
class Need:
    """A demand, as matching sees it."""

    author_uri: str
    category: str | None
    terms: frozenset[str]
    lat: float | None
    lon: float | None
    weekdays: frozenset[int] | None = None


@dataclass(frozen=True)
class Supply:
    """A provider (their profile and open offers) or one offer, as matching sees it."""

    uri: str
    categories: frozenset[str]
    terms: frozenset[str]
    lat: float | None
    lon: float | None
    radius_km: float
    weekdays: frozenset[int] | None = None
    reputation_mean: Decimal | None = None
    reputation_count: int = 0


@dataclass(frozen=True)
class Match:
    """A scored pair: the total, its parts (before weighting) and what the reasons are made of."""

    score: float
    parts: dict[str, float] = field(default_factory=dict)
    category: str = "none"  # same | related | none
    distance_km: float | None = None
    common_days: tuple[int, ...] = ()
    reputation_mean: Decimal | None = None
    reputation_count: int = 0


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


def _reputation(mean: Decimal | None, count: int) -> float:
    total = float(mean or 0) * count + PRIOR_MEAN * PRIOR_WEIGHT
    pulled = total / (count + PRIOR_WEIGHT)
    return max(0.0, min(1.0, (pulled - 1) / 4))


def score(need: Need, supply: Supply) -> Match | None:
    """The match of ``supply`` for ``need``, or None when it is none (out of the supply's radius, or
    nothing in common)."""
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
    if need.weekdays is None or supply.weekdays is None:
        availability = UNKNOWN
    else:
        common = tuple(sorted(need.weekdays & supply.weekdays))
        availability = 1.0 if common else 0.0
    parts = {
        "category": category,
        "text": text,
        "distance": distance,
        "availability": availability,
        "reputation": _reputation(supply.reputation_mean, supply.reputation_count),
    }
    total = sum(WEIGHTS[name] * value for name, value in parts.items())
    return Match(
        score=round(total, 4),
        parts=parts,
        category=kind,
        distance_km=distance_km,
        common_days=common,
        reputation_mean=supply.reputation_mean,
        reputation_count=supply.reputation_count,
    )


_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
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
        "and": " et ",
    },
    "en": {
        "same": "same service",
        "related": "related service",
        "here": "same commune",
        "km": "{km} km away",
        "days": "available on {days}",
        "rated": "{mean}/5 from {count} evaluation{s}",
        "new": "not evaluated yet",
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
    if match.common_days:
        found.append(words["days"].format(days=_join((_DAYS[lang][d] for d in match.common_days), lang)))
    if match.reputation_count and match.reputation_mean is not None:
        plural = "s" if match.reputation_count > 1 else ""
        found.append(
            words["rated"].format(
                mean=_number(match.reputation_mean, lang), count=match.reputation_count, s=plural
            )
        )
    else:
        found.append(words["new"])
    return found
