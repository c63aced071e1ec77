"""A page of the matches nearest a centre, read position by position.

Proposals are placed at their commune's centre (public positions stay coarse), so many share a position:
the positions in growing boxes around the centre are read from the index of positions alone, sorted by
distance here, and the matches of each, newest first, are read until the page is full.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, bindparam
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from node.market.models import Proposal
from node.search.backends import Checker
from node.search.statements import NEWEST, NO_WORDS, TERMS, Shape, Words, matching, open_in_box, run, where

__all__ = ["NEAREST_BOXES", "NEAREST_POSITIONS", "nearest_page"]

# the half-widths (degrees of latitude, about 3, 11, 44, 178 and 711 km) of the boxes where a search sorted
# by distance looks for its nearest matches before sorting every match
NEAREST_BOXES = (0.025, 0.1, 0.4, 1.6, 6.4)

# The positions (communes' centres: many proposals each) in a box, from the index of positions alone.
_POSITIONS = (
    select_columns(col(Proposal.latitude), col(Proposal.longitude))
    .where(*open_in_box("box_"))
    .group_by(col(Proposal.latitude), col(Proposal.longitude))
)
NEAREST_POSITIONS = 40  # a page read from more positions than this is read by sorting every match


@lru_cache(maxsize=256)
def _position_statement(shape: Shape, words: Words, terms: bool) -> Any:
    """The matches at one position (``lat``, ``lon``), newest first; with ``terms`` every row with its
    stored terms (for a :meth:`TextBackend.checker`), else no more than ``limit``."""
    here = [col(Proposal.latitude) == bindparam("lat"), col(Proposal.longitude) == bindparam("lon")]
    statement = matching([*where(shape, words), *here], [col(Proposal.id), *(TERMS if terms else ())])
    statement = statement.order_by(*NEWEST)
    return statement if terms else statement.limit(bindparam("limit", type_=Integer))


def _at_position(
    shape: Shape,
    words: Words,
    values: dict[str, Any],
    lat: float,
    lon: float,
    limit: int,
    *,
    session: Session,
    checker: Checker | None,
) -> list[int]:
    """Up to ``limit`` matches at one position, newest first."""
    here = {**values, "lat": lat, "lon": lon, "limit": limit}
    if checker is None:
        return [int(i) for i in run(session, _position_statement(shape, words, False), here).scalars().all()]
    found: list[int] = []
    result = run(session, _position_statement(shape, NO_WORDS, True), here)
    try:
        for row_id, title_terms, text_terms in result:
            if checker(row_id, title_terms, text_terms)[0]:
                found.append(int(row_id))
                if len(found) == limit:
                    break
    finally:
        result.close()
    return found


def nearest_page(
    shape: Shape,
    words: Words,
    values: dict[str, Any],
    offset: int,
    limit: int,
    *,
    session: Session,
    checker: Checker | None = None,
) -> list[int] | None:
    """The ids of one page of the matches nearest the centre (then newest), read position by position
    (proposals are placed at their commune's centre: many share one), nearest first, from growing boxes
    around the centre (the index of positions) rather than by sorting every match; None when the largest
    box holds too few, or the page spans too many positions (:data:`NEAREST_POSITIONS`) or two at the same
    distance. Sound because a position outside a box of half-width ``h`` (in the planar distance of
    :func:`planar`) is farther than ``h``: when the page's last position is nearer than ``h``, no match
    outside the box can come before; the unplaced (sorted last) never can either. With a ``checker`` the
    rows of a position are checked against the words one by one."""
    if "clat" not in values:
        return None
    lat, lon, shrink = values["clat"], values["clon"], values["shrink"]
    wanted = offset + limit
    for half in NEAREST_BOXES:
        box = {
            "box_south": lat - half,
            "box_north": lat + half,
            "box_west": lon - half / shrink,
            "box_east": lon + half / shrink,
        }
        # the same planar distance as the database's (:func:`planar`), computed the same way
        positions = sorted(
            ((p_lon - lon) * shrink * (p_lon - lon) * shrink + (p_lat - lat) * (p_lat - lat), p_lat, p_lon)
            for p_lat, p_lon in run(session, _POSITIONS, box).all()
        )
        found: list[int] = []
        for n, (distance, p_lat, p_lon) in enumerate(positions):
            if distance >= half * half * (1 - 1e-9) or n == NEAREST_POSITIONS:
                break
            if n + 1 < len(positions) and positions[n + 1][0] == distance:
                return None  # two positions at the same distance: their matches interleave by date
            found += _at_position(
                shape, words, values, p_lat, p_lon, wanted - len(found), session=session, checker=checker
            )
            if len(found) == wanted:
                return found[offset:]
        if len(positions) > NEAREST_POSITIONS:
            return None
    return None
