"""The service: a node's protected figures for a range of months, and opting in and out of them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from node.accounts.models import User
from node.core.timeutil import isoformat, utcnow
from node.research import cellkey, cells, indicators, reading
from node.research.cells import Cell
from node.research.models import ResearchOptOut
from node.research.records import PeriodError, month_of, month_start, months, next_month
from node.settings import Mode, Settings

DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class Figures:
    """The published cells of a node for ``months``, with what a reader needs to interpret them."""

    node: str
    mode: str
    k: int
    months: list[str]
    cells: list[Cell]
    computed_at: datetime

    def header(self) -> dict[str, object]:
        return {
            "node": self.node,
            "mode": self.mode,
            "k": self.k,
            "from": self.months[0],
            "to": self.months[-1],
            "computedAt": isoformat(self.computed_at),
            "noise": cellkey.description(),
        }


def period(first: str | None, last: str | None, *, now: datetime | None = None) -> list[str]:
    """The months from ``first`` to ``last`` (default: the twelve months up to the current one).

    Refused (:class:`PeriodError`): malformed, reversed, longer than ten years, or ending in the future."""
    current = month_of(now or utcnow())
    last = (last or current).strip()
    if first is None:
        start = month_start(last)
        year, month = start.year, start.month - (DEFAULT_MONTHS - 1)
        while month < 1:
            year, month = year - 1, month + 12
        first = f"{year:04d}-{month:02d}"
    found = months(first.strip(), last)
    if found[-1] > current:
        raise PeriodError(f"the range ends after the current month ({current})")
    return found


def compute(
    session: Session, settings: Settings, wanted: list[str], *, now: datetime | None = None
) -> Figures:
    """The protected figures of the months ``wanted`` (see :mod:`.cells` for what is withheld), their
    counts perturbed by the cell key method under the node's secret (:mod:`.cellkey`)."""
    records = reading.read(session, settings, month_start(next_month(wanted[-1])))
    raw = indicators.compute(records, wanted, cooperative=settings.mode == Mode.COOPERATIVE)
    return Figures(
        node=settings.domain,
        mode=settings.mode.value,
        k=settings.research_min_people,
        months=wanted,
        cells=cells.protect(
            raw, settings.research_min_people, cellkey.CellKeys.of_secret(settings.effective_secret_key)
        ),
        computed_at=now or utcnow(),
    )


class Cache:
    """Figures kept for ``seconds`` per range of months, so that pages do not recompute them on every
    request (twelve months of a busy node take seconds, see bench/research.py). Opting out clears the
    cache of the process it happens in; other processes catch up within ``seconds``."""

    def __init__(self, seconds: float = 300.0) -> None:
        self.seconds = seconds
        self._kept: dict[tuple[str, ...], tuple[float, Figures]] = {}

    def get(self, wanted: list[str]) -> Figures | None:
        found = self._kept.get(tuple(wanted))
        if found is None or time.monotonic() - found[0] > self.seconds:
            return None
        return found[1]

    def put(self, figures: Figures) -> None:
        if len(self._kept) > 64:  # ranges asked for by hand: keep the memory bounded
            self._kept.clear()
        self._kept[tuple(figures.months)] = (time.monotonic(), figures)

    def clear(self) -> None:
        self._kept.clear()


def is_opted_out(session: Session, user_id: int) -> bool:
    return session.get(ResearchOptOut, user_id) is not None


def set_opt_out(session: Session, user_id: int, out: bool) -> None:
    """Leave the figures (``out``) or come back; the figures are computed afresh from then on."""
    row = session.get(ResearchOptOut, user_id)
    if out and row is None:
        session.add(ResearchOptOut(user_id=user_id))
    elif not out and row is not None:
        session.delete(row)
    session.flush()


def export_sections(user: User, actor_uri: str, *, session: Session) -> dict[str, Any]:
    """The person's choice about research figures, for their account export (an
    :class:`node.accounts.gdpr.Exporter`)."""
    row = session.get(ResearchOptOut, user.pk)
    return {
        "research_figures": {
            "opted_out": row is not None,
            "opted_out_at": isoformat(row.created_at) if row is not None else None,
        }
    }


__all__ = [
    "Cache",
    "export_sections",
    "Figures",
    "PeriodError",
    "compute",
    "is_opted_out",
    "period",
    "set_opt_out",
]
