"""The protection of research figures: no published cell comes from fewer than k people, and no total
minus the shown cells gives a figure from fewer than k people (property-based, and by attack)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.research.cells import TOTAL, Key, RawCell, protect, withheld_people

PEOPLE = [f"https://n.example/users/p{i}" for i in range(30)]


def count_group(name: str, parts: dict[str, list[set[str]]]) -> list[RawCell]:
    """An additive group of count cells: each part has one set of people per item."""
    cells, everyone, items = [], set(), 0
    for part, rows in parts.items():
        people = set().union(*rows) if rows else set()
        everyone |= people
        items += len(rows)
        cells.append(
            RawCell(
                Key("2026-11", "local", name, part),
                Decimal(len(rows)),
                len(rows),
                frozenset(people),
                group=name,
            )
        )
    total = Key("2026-11", "local", name, TOTAL)
    cells.append(RawCell(total, Decimal(items), items, frozenset(everyone), group=name, is_total=True))
    return cells


item = st.sets(st.sampled_from(PEOPLE), min_size=1, max_size=2)
part = st.lists(item, min_size=0, max_size=8)
groups = st.dictionaries(st.sampled_from([f"c{i}" for i in range(8)]), part, min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(groups, min_size=1, max_size=3), st.integers(min_value=3, max_value=7))
def test_no_published_cell_comes_from_fewer_than_k_people(
    tables: list[dict[str, list[set[str]]]], k: int
) -> None:
    raw = [cell for i, parts in enumerate(tables) for cell in count_group(f"g{i}", parts)]
    published = protect(raw, k)
    by_key = {c.key: c for c in raw}
    for cell in published:
        if cell.shown:
            source = by_key[cell.key]
            assert source.items == 0 or len(source.people) >= k
            assert cell.people == len(source.people)


@settings(max_examples=150, deadline=None)
@given(st.lists(groups, min_size=1, max_size=3), st.integers(min_value=3, max_value=7))
def test_a_shown_total_minus_the_shown_cells_comes_from_at_least_k_people(
    tables: list[dict[str, list[set[str]]]], k: int
) -> None:
    raw = [cell for i, parts in enumerate(tables) for cell in count_group(f"g{i}", parts)]
    published = {c.key: c for c in protect(raw, k)}
    for i in range(len(tables)):
        total = published[Key("2026-11", "local", f"g{i}", TOTAL)]
        hidden = withheld_people(raw, list(published.values()), f"g{i}")
        if total.shown:
            assert not hidden or len(hidden) >= k
            # And the difference really is what the withheld cells add up to: nothing else is hidden.
            shown = sum(
                c.items or 0
                for key, c in published.items()
                if key.indicator == f"g{i}" and c.shown and key.breakdown != TOTAL
            )
            assert (total.items or 0) - shown == sum(
                r.items for r in raw if r.group == f"g{i}" and not r.is_total and not published[r.key].shown
            )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(PEOPLE), st.integers(min_value=1, max_value=50)), max_size=12),
    st.integers(min_value=3, max_value=7),
)
def test_quantiles_need_k_values_and_k_people(values: list[tuple[str, int]], k: int) -> None:
    people = frozenset(who for who, _ in values)
    cell = RawCell(
        Key("2026-11", "local", "price_eur_hour", "median"),
        Decimal(sorted(v for _, v in values)[len(values) // 2]) if values else None,
        len(values),
        people,
        quantile=True,
    )
    (published,) = protect([cell], k)
    assert published.shown == (len(values) >= k and len(people) >= k)


def test_one_person_in_a_category_cannot_be_recovered_by_differencing() -> None:
    """Six clean, five iron, one person gardens: the gardening cell is withheld, and so is a second one,
    so that total minus the shown cells gives the sum of two cells from at least k people."""
    cleaners = [{p} for p in PEOPLE[:6]]
    raw = count_group(
        "proposals",
        {"menage": cleaners, "jardinage": [{PEOPLE[9]}], "repassage": [{p} for p in PEOPLE[10:15]]},
    )
    published = {c.key.breakdown: c for c in protect(raw, 5)}
    assert published["jardinage"].suppressed == "primary"
    assert published["repassage"].suppressed == "secondary"
    assert published["menage"].value == 6
    assert published[TOTAL].value == 12
    assert published["menage"].share == Decimal("0.5")
    assert published["jardinage"].value is None and published["jardinage"].people is None


def test_a_group_of_too_few_people_loses_its_total() -> None:
    raw = count_group("evaluations", {"4": [{PEOPLE[0], PEOPLE[1]}], "5": [{PEOPLE[2], PEOPLE[1]}]})
    published = {c.key.breakdown: c for c in protect(raw, 5)}
    assert all(not c.shown for c in published.values())


def test_a_quantile_follows_the_count_of_its_population() -> None:
    raw = count_group(
        "agreement_pricing",
        {"euros": [{p} for p in PEOPLE[:6]], "tokens": [{PEOPLE[7]}], "other": [{p} for p in PEOPLE[10:13]]},
    )
    linked = Key("2026-11", "local", "agreement_pricing", "euros")
    quantile = RawCell(
        Key("2026-11", "local", "price_eur_hour", "median"),
        Decimal(20),
        6,
        frozenset(PEOPLE[:6]),
        linked=linked,
        quantile=True,
    )
    published = {c.key: c for c in protect([*raw, quantile], 5)}
    # tokens (1 person) withheld; other (3) too: together 4 < 5, so euros goes as well.
    assert not published[linked].shown
    assert published[quantile.key].suppressed == "linked"


def test_k_below_three_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        protect([], 2)
