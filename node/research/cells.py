"""Cells of research figures and their protection (statistical disclosure control).

A *raw* cell is one figure of one month and one scope (``local``: what this node holds as its own,
``federated``: what it holds from other nodes) with the people behind it, as URIs. It is never shown:
:func:`protect` turns raw cells into published cells that carry counts of people, never who.

The rules, from the statistical offices' secrecy rules (a figure may not single anyone out):

- *primary suppression*: a cell computed from fewer than ``k`` people is withheld; a quantile also needs
  at least ``k`` values;
- *secondary suppression*: in an additive group (cells that partition a published total: proposals of
  one purpose by category, agreements by outcome, evaluations of one role by score), the total minus the
  shown cells gives the sum of the withheld ones; so more cells are withheld, those with the fewest people
  first, until the withheld cells together come from at least ``k`` people (or none is withheld);
- *linked suppression*: a quantile whose population is a cell of an additive group (prices of the
  agreements in euros) is withheld with that cell, and publishes that cell's count as its own.

Nothing is finer than a month and a node: no cell is keyed by a person, a day or a commune.

Given :class:`~.cellkey.CellKeys`, every shown count (and the counts of items and people beside each
figure, and magnitudes) is then perturbed by the cell key method (:mod:`.cellkey`), so that differencing
two tables does not give one person's contribution; suppression is decided on the true counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from node.research import cellkey
from node.research.cellkey import CellKeys

PRIMARY = "primary"
SECONDARY = "secondary"
LINKED = "linked"
TOTAL = "*"  # the breakdown suffix of an additive group's total


@dataclass(frozen=True)
class Key:
    """Where a cell sits: month (``YYYY-MM``), scope, indicator and breakdown."""

    month: str
    scope: str
    indicator: str
    breakdown: str


@dataclass(frozen=True)
class RawCell:
    """A figure with the people and the number of items behind it (never published as such).

    ``group`` names the additive group the cell belongs to (its total has ``is_total``); ``linked`` is
    the key of the count cell whose population a quantile describes; ``quantile`` marks figures that
    need ``k`` values as well as ``k`` people. ``records`` are the identities of the items behind the
    cell (their keys make the cell key; the people's when empty); ``step`` is one record's typical
    contribution to a magnitude (the value is then perturbed by that much per unit of noise), and a
    cell that is neither a quantile nor a magnitude is a count.
    """

    key: Key
    value: Decimal | None
    items: int
    people: frozenset[str]
    group: str | None = None
    is_total: bool = False
    linked: Key | None = None
    quantile: bool = False
    records: frozenset[str] = frozenset()
    step: Decimal | None = None
    # Kinds of people of which each must count k too (the providers and the beneficiaries of visits),
    # so that k people of one kind cannot hide one person of the other.
    parties: tuple[frozenset[str], ...] = ()

    @property
    def is_count(self) -> bool:
        return not self.quantile and self.step is None


@dataclass(frozen=True)
class Cell:
    """A published figure: the value and the counts behind it, or why it is withheld."""

    key: Key
    value: Decimal | None
    items: int | None
    people: int | None
    suppressed: str = ""  # '' | primary | secondary | linked
    share: Decimal | None = None  # of the group's total, when both are shown

    @property
    def shown(self) -> bool:
        return not self.suppressed


@dataclass
class _Group:
    total: RawCell | None = None
    members: list[RawCell] = field(default_factory=list)


def primary_suppressed(cell: RawCell, k: int) -> bool:
    """True when ``cell`` comes from too few people (or, for a quantile, too few values).

    An empty count (no item, nobody) is published: it says that nothing happened, about no one."""
    if cell.items == 0 and not cell.people and not cell.quantile:
        return False
    return len(cell.people) < k or (cell.quantile and cell.items < k) or any(len(p) < k for p in cell.parties)


def _secondary(group: _Group, withheld: set[Key], k: int) -> None:
    """Withhold more cells of ``group`` until the withheld ones come from at least ``k`` people."""
    if group.total is None or group.total.key in withheld:
        return
    hidden = [c for c in group.members if c.key in withheld]
    if not hidden:
        return
    union: set[str] = set().union(*(c.people for c in hidden))
    kinds = max((len(c.parties) for c in group.members), default=0)
    unions: list[set[str]] = [set() for _ in range(kinds)]

    def add(cell: RawCell) -> None:
        union.update(cell.people)
        for i, party in enumerate(cell.parties):
            unions[i].update(party)

    def enough() -> bool:
        return len(union) >= k and all(len(u) >= k for u in unions)

    for cell in hidden:
        add(cell)
    candidates = sorted(
        (c for c in group.members if c.key not in withheld and c.people),
        key=lambda c: (len(c.people), c.items, c.key.breakdown),
    )
    for candidate in candidates:
        if enough():
            break
        withheld.add(candidate.key)
        add(candidate)
    if not enough():  # every cell withheld and still too few: the total is itself too small
        withheld.add(group.total.key)


def protect(raw: Iterable[RawCell], k: int, keys: CellKeys | None = None) -> list[Cell]:
    """The publishable form of ``raw``: primary, secondary and linked suppression applied, and with
    ``keys`` the shown figures perturbed (module doc)."""
    if k < 3:
        raise ValueError("k must be at least 3")
    cells = list(raw)
    primary = {c.key for c in cells if primary_suppressed(c, k)}
    groups: dict[str, _Group] = {}
    for cell in cells:
        if cell.group is not None:
            group = groups.setdefault(cell.group, _Group())
            if cell.is_total:
                group.total = cell
            else:
                group.members.append(cell)
    withheld = set(primary)
    for group in groups.values():
        _secondary(group, withheld, k)
    by_key = {c.key: c for c in cells}
    linked = {c.key for c in cells if c.linked is not None and c.linked in withheld and c.key not in withheld}
    noisy = _Noise(keys, k, cells)
    published: list[Cell] = []
    for cell in cells:
        if cell.key in withheld or cell.key in linked:
            reason = PRIMARY if cell.key in primary else SECONDARY if cell.key in withheld else LINKED
            published.append(Cell(cell.key, None, None, None, reason))
            continue
        source = by_key.get(cell.linked) if cell.linked is not None else None
        items = noisy.items(source) if source is not None else noisy.items(cell)
        share = None
        owner = groups.get(cell.group) if cell.group is not None else None
        if owner is not None and not cell.is_total and owner.total is not None:
            total = owner.total
            shown_total = noisy.value(total)
            if total.key not in withheld and shown_total:
                share = min(Decimal(1), noisy.items(cell) / shown_total).quantize(Decimal("0.0001"))
        people = noisy.people(cell)
        published.append(Cell(cell.key, noisy.value(cell), items, people, "", share))
    return published


class _Noise:
    """The published value, items and people of a shown cell: true ones, or perturbed given keys."""

    def __init__(self, keys: CellKeys | None, k: int, cells: Sequence[RawCell]) -> None:
        self.keys, self.k = keys, k
        self.months: dict[str, int] = {}
        self.known: dict[tuple[Key, bool], int] = {}  # cell keys already summed (a total serves each part)
        if keys is not None:
            found: dict[str, set[str]] = {}
            for cell in cells:
                found.setdefault(cell.key.month, set()).update(cell.records or cell.people)
            self.months = {month: keys.cell_key(records) for month, records in found.items()}

    def _key(self, cell: RawCell, identities: frozenset[str] | None = None) -> int:
        """The cell's records' keys, plus the key of every record of its month (:mod:`.cellkey`)."""
        assert self.keys is not None
        found = self.known.get((cell.key, identities is not None))
        if found is None:
            own = self.keys.cell_key(identities if identities is not None else cell.records or cell.people)
            found = self.known[cell.key, identities is not None] = (
                own + self.months.get(cell.key.month, 0)
            ) % cellkey.N
        return found

    def items(self, cell: RawCell) -> int:
        if self.keys is None:
            return cell.items
        return cellkey.count(cell.items, self._key(cell))

    def value(self, cell: RawCell) -> Decimal | None:
        if self.keys is None or cell.value is None:
            return cell.value
        if cell.is_count:
            return Decimal(cellkey.count(int(cell.value), self._key(cell)))
        if cell.step is not None:
            places = Decimal(1).scaleb(cell.value.as_tuple().exponent)  # type: ignore[arg-type]
            return cellkey.magnitude(cell.value, cell.step, self._key(cell), places)
        return cell.value  # a quantile is one of the values: k of them at least, not perturbed

    def people(self, cell: RawCell) -> int:
        if self.keys is None or not cell.people:
            return len(cell.people)
        # Keyed by the people themselves; never shown below k (the cell is shown: there are k at least).
        return max(self.k, cellkey.count(len(cell.people), self._key(cell, cell.people)))


def withheld_people(raw: Sequence[RawCell], published: Sequence[Cell], group: str) -> set[str]:
    """The people behind the withheld cells of one additive group (what differencing its shown total
    could reveal together); used by the checks and the tests."""
    shown = {c.key for c in published if c.shown}
    hidden = [c for c in raw if c.group == group and not c.is_total and c.key not in shown]
    return set().union(*(c.people for c in hidden)) if hidden else set()
