"""The tamper-evident clock log: every check-in, check-out and correction appended as one link of a
hash chain, never updated nor deleted.

Each link carries the SHA-256 of the previous one and its own, computed over ``prev_hash`` and a
canonical form of its fields (JSON, keys sorted, no spaces, times in UTC ISO 8601 to the microsecond;
:func:`canonical`). The first link's previous hash is 64 zeros. A chain's head row
(``tm_clock_chain_heads``) is locked to append, so that two clock events at once take their turn and
the chain never forks; it also names the last link, so that cutting links off the end is found.

The database refuses ``UPDATE`` and ``DELETE`` on the log (triggers created by the migration); someone
with the rights to drop them could still rewrite rows, and :func:`verify` then names the first link
whose hash, previous hash or sequence does not hold, or the first clock event that differs from its
link. ``asasap telemanagement verify-log`` runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import Session, select

from node.core.db import insert_or_update
from node.core.sqlbase import table_of
from node.core.timeutil import utcnow
from node.telemanagement.models import ClockEvent
from node.telemanagement.tables import ClockChainHead, ClockLogEntry

CHAIN = "node"
GENESIS = "0" * 64
BATCH = 5000


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(entry: ClockLogEntry | Any) -> str:
    """The canonical form of a link's fields (everything but its own hash)."""
    fields = {
        "chain": entry.chain,
        "seq": entry.seq,
        "event_id": entry.event_id,
        "visit_id": entry.visit_id,
        "kind": entry.kind,
        "at": _time(entry.at),
        "received_at": _time(entry.received_at),
        "method": entry.method,
        "manual_reason": entry.manual_reason,
        "provider_id": entry.provider_id,
        "offline": bool(entry.offline),
        "client_id": entry.client_id,
        "origin": entry.origin,
        "note": entry.note,
        "position": entry.position,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, entry: ClockLogEntry | Any) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(entry)}".encode()).hexdigest()


def _lock_head(session: Session, chain: str) -> ClockChainHead:
    """The chain's head, locked until the transaction ends (created on first use)."""
    # One upsert that changes nothing: it creates the head of a new chain, and takes the row lock on
    # PostgreSQL (SQLite's write lock is held already), so appenders of one chain take their turn.
    table = table_of(ClockChainHead)
    values = {"chain": chain, "seq": 0, "hash": GENESIS}
    session.execute(insert_or_update(session, table, values, ["chain"], {"seq": table.c.seq}))
    head = session.get(ClockChainHead, chain, populate_existing=True)
    assert head is not None
    return head


def append(session: Session, entry: ClockLogEntry) -> ClockLogEntry:
    """Chain ``entry`` (its fields set, not its place) after the last link, in the caller's transaction."""
    head = _lock_head(session, entry.chain)
    entry.seq = head.seq + 1
    entry.prev_hash = head.hash
    entry.hash = link_hash(head.hash, entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.add(entry)
    session.add(head)
    session.flush()
    return entry


def record_event(
    session: Session,
    event: ClockEvent,
    *,
    offline: bool = False,
    client_id: str | None = None,
    origin: str = "",
    position: str = "",
) -> ClockLogEntry:
    """Chain a clock event that was just written (flushed, so it has its id)."""
    return append(
        session,
        ClockLogEntry(
            chain=CHAIN,
            seq=0,
            event_id=event.id,
            visit_id=event.visit_id,
            kind=event.kind,
            at=event.at,
            received_at=event.received_at,
            method=event.method,
            manual_reason=event.manual_reason,
            provider_id=event.provider_id,
            offline=offline,
            client_id=client_id,
            origin=origin,
            position=position,
            prev_hash="",
            hash="",
        ),
    )


def record_correction(
    session: Session, visit_id: int, at: datetime, *, by: int | None, note: str
) -> ClockLogEntry:
    """Chain a coordinator's correction of a visit's clocked times (``at``: the corrected time; the
    note says what changed and why)."""
    return append(
        session,
        ClockLogEntry(
            chain=CHAIN,
            seq=0,
            visit_id=visit_id,
            kind="correction",
            at=at,
            received_at=utcnow(),
            method="manual",
            provider_id=by,
            note=note[:500],
            prev_hash="",
            hash="",
        ),
    )


def entry_by_client_id(session: Session, client_id: str) -> ClockLogEntry | None:
    return session.exec(select(ClockLogEntry).where(ClockLogEntry.client_id == client_id)).first()


def entry_of_event(session: Session, event_id: int) -> ClockLogEntry | None:
    return session.exec(select(ClockLogEntry).where(ClockLogEntry.event_id == event_id)).first()


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found: the links checked, and the first broken one (``None``: all hold)."""

    checked: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def _links(session: Session, chain: str) -> Iterator[Any]:
    """The chain's links in order, as plain rows (Core, in batches: no ORM object per link)."""
    table = table_of(ClockLogEntry)
    after = 0
    while True:
        batch = session.execute(
            core_select(table)
            .where(table.c.chain == chain, table.c.seq > after)
            .order_by(table.c.seq)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].seq


_CHECKED = ("visit_id", "kind", "at", "method", "manual_reason", "provider_id")


def _differs(event: Any) -> str:
    """The first field of a clock event that differs from its link (``row.link_<name>``), or ``""``."""
    for name in _CHECKED[:-1]:
        if getattr(event, name) != getattr(event, f"link_{name}"):
            return name
    # A provider whose account was deleted leaves the event without them (ON DELETE SET NULL).
    return "provider_id" if event.provider_id not in (None, event.link_provider_id) else ""


def verify(session: Session, chain: str = CHAIN) -> Verification:
    """Recompute the chain from its first link; name the first link that does not hold."""
    expected_prev, seq = GENESIS, 0
    for link in _links(session, chain):
        seq += 1
        if link.seq != seq:
            return Verification(seq - 1, seq, f"link {seq} is missing (the next one is {link.seq})")
        if link.prev_hash != expected_prev:
            return Verification(seq - 1, seq, f"link {seq} does not name the previous link's hash")
        if link_hash(link.prev_hash, link) != link.hash:
            return Verification(seq - 1, seq, f"link {seq} was changed after it was written")
        expected_prev = link.hash
    head = session.get(ClockChainHead, chain)
    if head is not None and (head.seq, head.hash) != (seq, expected_prev):
        return Verification(
            seq, min(seq + 1, head.seq), f"the chain ends at link {seq}, its head says {head.seq}"
        )
    # Every clock event must be the one its link says.
    events, links = table_of(ClockEvent), table_of(ClockLogEntry)
    rows = session.execute(
        core_select(
            events, links.c.seq.label("link_seq"), *(links.c[name].label(f"link_{name}") for name in _CHECKED)
        )
        .select_from(events.outerjoin(links, links.c.event_id == events.c.id))
        .order_by(events.c.id)
    )
    for row in rows:
        if row.link_seq is None:
            return Verification(seq, seq + 1, f"clock event {row.id} has no link in the log")
        changed = _differs(row)
        if changed:
            return Verification(
                seq, row.link_seq, f"clock event {row.id} differs from link {row.link_seq} ({changed})"
            )
    return Verification(seq)
