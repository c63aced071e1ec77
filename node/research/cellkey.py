"""The cell key method (as the Australian Bureau of Statistics and Eurostat publish it): a small,
deterministic noise on every published count, so that two tables computed before and after one person
leaves (or one agreement is added) do not give that person's contribution by subtraction.

- Each *record* (a proposal, an agreement, an evaluation, a transfer, an assignment; for the count of
  people, each person) has a *record key*: an integer drawn uniformly from ``[0, N)``, stable and secret.
  Here it is an HMAC-SHA-256 of the record's identity under the node's secret key (so the node need not
  store it, and no reader can compute it).
- The *cell key* of a cell is the sum of its records' keys modulo ``N``: the same records always give the
  same cell key (asking again gives the same figure, averaging repeated tables gains nothing), and one
  record more or fewer gives an unrelated one.
- The *perturbation* is read from the cell key in a fixed table (:data:`PERTURBATIONS`): -2, -1, 0, +1,
  +2 with probabilities 5 %, 20 %, 50 %, 20 %, 5 % (mean 0, variance 0.8). A count n > 0 is published as
  max(1, n + p); an empty count stays 0 (it says nothing happened, about no one). A magnitude (hours of
  time tokens, a share, a mean) moves by p times one record's typical contribution.

So every published count is within :data:`MAX_CHANGE` of the true one, and the difference of two tables
that differ by one record is that record plus the difference of two independent perturbations: it equals
the true contribution in only a third of cases (two perturbations are equal with probability 0.335), and
the same published difference arises from a contribution of 0, 1 or 2 (tests/research/test_cellkey.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal

N = 2**32
PERTURBATIONS: tuple[tuple[int, float], ...] = ((-2, 0.05), (-1, 0.20), (0, 0.50), (1, 0.20), (2, 0.05))
MAX_CHANGE = max(abs(p) for p, _ in PERTURBATIONS)
VARIANCE = sum(p * p * w for p, w in PERTURBATIONS)
METHOD = "cell-key"


def _bounds() -> list[tuple[int, int]]:
    """The table as upper bounds of the cell key: a cell key below the bound gets that perturbation."""
    found, cumulative = [], 0.0
    for change, weight in PERTURBATIONS:
        cumulative += weight
        found.append((round(cumulative * N), change))
    return [(bound, change) for bound, change in found[:-1]] + [(N, found[-1][1])]


BOUNDS = _bounds()


def description() -> dict[str, object]:
    """The method and its parameters, as exports and the signed document state them."""
    return {
        "method": METHOD,
        "maxChange": MAX_CHANGE,
        "variance": round(VARIANCE, 4),
        "perturbations": [{"change": p, "probability": w} for p, w in PERTURBATIONS],
    }


@dataclass
class CellKeys:
    """Record keys under one node's secret, kept for the computation of one table."""

    secret: bytes
    _keys: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of_secret(cls, secret: str) -> CellKeys:
        # A key of its own, so that research keys say nothing about other uses of the secret.
        return cls(hashlib.sha256(b"asasap research cell keys\0" + secret.encode()).digest())

    def record_key(self, identity: str) -> int:
        found = self._keys.get(identity)
        if found is None:
            digest = hmac.new(self.secret, identity.encode(), hashlib.sha256).digest()
            found = self._keys[identity] = int.from_bytes(digest[:8], "big") % N
        return found

    def cell_key(self, identities: Collection[str]) -> int:
        known = self._keys
        try:
            return sum(map(known.__getitem__, identities)) % N
        except KeyError:  # records not met yet in this table: key them, then sum
            for identity in identities:
                self.record_key(identity)
            return sum(map(known.__getitem__, identities)) % N


def change(cell_key: int) -> int:
    """The perturbation the table gives ``cell_key``."""
    for bound, found in BOUNDS:
        if cell_key < bound:
            return found
    return BOUNDS[-1][1]


def count(true: int, cell_key: int) -> int:
    """A count as published: zero stays zero, any other count moves by the perturbation, never below 1."""
    if true <= 0:
        return 0
    return max(1, true + change(cell_key))


def magnitude(true: Decimal, step: Decimal, cell_key: int, places: Decimal) -> Decimal:
    """A magnitude as published: moved by the perturbation times ``step`` (one record's contribution)."""
    return max(Decimal(0), true + change(cell_key) * step).quantize(places)
