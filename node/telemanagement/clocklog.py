"""The tamper-evident clock log: every check-in, check-out and correction appended as one link of a
hash chain, never updated nor deleted.

Each link carries the SHA-256 of the previous one and its own, computed over ``prev_hash`` and a
canonical form of its fields (JSON, keys sorted, no spaces, times in UTC ISO 8601 to the microsecond;
:func:`canonical`). The first link's previous hash is 64 zeros. A chain's head row
(``tm_clock_chain_heads``) is locked to append (moved on and read in one ``UPDATE ... RETURNING``), so
that two clock events at once take their turn and the chain never forks; it also names the last link,
so that cutting links off the end is found. Appending and verifying run on the driver's cursor
(:mod:`node.core.prepared`): a clock event is the hot path, and verify-log reads every link.

The database refuses ``UPDATE`` and ``DELETE`` on the log (triggers created by the migration); someone
with the rights to drop them could still rewrite rows, and :func:`verify` then names the first link
whose hash, previous hash or sequence does not hold, or the first clock event that differs from its
link. ``asasap telemanagement verify-log`` runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Integer, bindparam, func, insert, literal_column, update
from sqlalchemy import select as core_select
from sqlmodel import Session, select

from node.core.db import insert_or_update
from node.core.prepared import Prepared, result_processor
from node.core.sqlbase import table_of
from node.core.timeutil import UTCDateTime, utcnow
from node.telemanagement.models import ClockEvent
from node.telemanagement.tables import ClockChainHead, ClockLogEntry

CHAIN = "node"
GENESIS = "0" * 64
BATCH = 20_000


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


_text = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) writes for a string


# The link's fields in the canonical form's order (its keys sorted).
ORDER = (
    "at", "chain", "client_id", "event_id", "kind", "manual_reason", "method", "note", "offline", "origin",
    "position", "provider_id", "received_at", "seq", "visit_id",
)  # fmt: skip


def _form(
    at: str,
    chain: str,
    client_id: str | None,
    event_id: int | None,
    kind: str,
    manual_reason: str,
    method: str,
    note: str,
    offline: bool,
    origin: str,
    position: str,
    provider_id: int | None,
    received_at: str,
    seq: int,
    visit_id: int,
) -> str:
    """The canonical form of the fields in :data:`ORDER`, the times given as :func:`_time` writes them."""
    text = _text
    return (
        f'{{"at":"{at}","chain":{text(chain)},'
        f'"client_id":{"null" if client_id is None else text(client_id)},'
        f'"event_id":{"null" if event_id is None else int(event_id)},"kind":{text(kind)},'
        f'"manual_reason":{text(manual_reason)},"method":{text(method)},"note":{text(note)},'
        f'"offline":{"true" if offline else "false"},"origin":{text(origin)},"position":{text(position)},'
        f'"provider_id":{"null" if provider_id is None else int(provider_id)},"received_at":"{received_at}",'
        f'"seq":{int(seq)},"visit_id":{int(visit_id)}}}'
    )


def _stamps(session: Session) -> Callable[[Any], str]:
    """How a time read raw from the session's database is written in a canonical form. SQLite gives the
    text SQLAlchemy stored (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC): rewritten as it is, without parsing
    (any other text goes through the column type, and a changed one changes the link's hash anyway);
    PostgreSQL gives an aware datetime."""
    convert = result_processor(session, UTCDateTime())
    if session.get_bind().dialect.name != "sqlite":
        return lambda raw: _time(convert(raw))

    def stamp(raw: Any) -> str:
        if type(raw) is str and len(raw) == 26 and raw[10] == " " and raw[19] == ".":
            return f"{raw[:10]}T{raw[11:]}+00:00"
        return _time(convert(raw))

    return stamp


def canonical(entry: ClockLogEntry | Any) -> str:
    """The canonical form of a link's fields (everything but its own hash): the JSON object of
    ``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, times in UTC
    ISO 8601 to the microsecond, written out in that order without building the object (verify-log
    rebuilds it for every link)."""
    values = [getattr(entry, name) for name in ORDER]
    values[0], values[12] = _time(values[0]), _time(values[12])
    return _form(*values)


def link_hash(prev_hash: str, entry: ClockLogEntry | Any) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(entry)}".encode()).hexdigest()


_HEADS, _LOG = table_of(ClockChainHead), table_of(ClockLogEntry)
# The head moved on by one and read in one round trip: the row stays locked (on SQLite, the write
# lock is held already), its hash is the previous link's until _HEAD_HASH writes the new one.
_HEAD_NEXT = Prepared(
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("chain_name"))
    .values(seq=_HEADS.c.seq + literal_column("1", Integer))  # no bound parameter
    .returning(_HEADS.c.seq, _HEADS.c.hash)
)
_HEAD_HASH = Prepared(
    update(_HEADS).where(_HEADS.c.chain == bindparam("chain_name")).values(hash=bindparam("new_hash"))
)
_LINK = Prepared(insert(_LOG))


class _Fields(SimpleNamespace):
    """A link's fields by name, for :func:`canonical`."""


def append(session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    """Chain a link (``fields``: every column but ``id``, ``seq``, ``prev_hash`` and ``hash``) after
    the last one, in the caller's transaction; its fields with its place and hashes."""
    session.flush()  # what the caller changed through the ORM goes first (nothing, usually)
    chain = fields["chain"]
    moved = _HEAD_NEXT.run(session, {"chain_name": chain})
    if not moved:  # a new chain: its head is created (by one of two appenders at once), then moved
        table = _HEADS
        values = {"chain": chain, "seq": 0, "hash": GENESIS}
        session.execute(insert_or_update(session, table, values, ["chain"], {"seq": table.c.seq}))
        moved = _HEAD_NEXT.run(session, {"chain_name": chain})
    seq, prev_hash = moved[0]
    link = {**fields, "seq": seq, "prev_hash": prev_hash}
    link["hash"] = link_hash(prev_hash, _Fields(**link))
    _LINK.run(session, link)
    _HEAD_HASH.run(session, {"chain_name": chain, "new_hash": link["hash"]})
    cached = session.identity_map.get(session.identity_key(ClockChainHead, chain))
    if cached is not None:
        session.expire(cached)
    return link


def _fields(**values: Any) -> dict[str, Any]:
    """A link's fields, the unnamed ones at their defaults."""
    return {
        "chain": CHAIN,
        "event_id": None,
        "manual_reason": "",
        "provider_id": None,
        "offline": False,
        "client_id": None,
        "origin": "",
        "note": "",
        "position": "",
        **values,
    }


def record_clocked(
    session: Session,
    event: dict[str, Any],
    *,
    client_id: str | None,
    position: str = "",
    origin: str = "",
) -> dict[str, Any]:
    """Chain a clock event just written (``event``: its columns, ``event_id`` and ``offline``); the
    link's fields."""
    return append(session, _fields(**event, client_id=client_id, position=position, origin=origin))


def record_correction(
    session: Session, visit_id: int, at: datetime, *, by: int | None, note: str
) -> ClockLogEntry:
    """Chain a coordinator's correction of a visit's clocked times (``at``: the corrected time; the
    note says what changed and why)."""
    link = append(
        session,
        _fields(
            visit_id=visit_id,
            kind="correction",
            at=at,
            received_at=utcnow(),
            method="manual",
            provider_id=by,
            note=note[:500],
        ),
    )
    return ClockLogEntry(**link)


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


_LINKS = Prepared(
    core_select(*(_LOG.c[name] for name in ORDER), _LOG.c.prev_hash, _LOG.c.hash)
    .where(_LOG.c.chain == bindparam("chain_name"), _LOG.c.seq > bindparam("after"))
    .where(_LOG.c.seq <= bindparam("upto"))
    .order_by(_LOG.c.seq)
)
_LAST = Prepared(core_select(func.max(_LOG.c.seq)).where(_LOG.c.chain == bindparam("chain_name")))


def _links(session: Session, chain: str) -> Iterator[tuple[Any, ...]]:
    """The chain's links in order, as the driver's tuples (columns :data:`ORDER`, then ``prev_hash``
    and ``hash``), read by ranges of :data:`BATCH` sequence numbers."""
    last = _LAST.run(session, {"chain_name": chain})[0][0] or 0
    after = 0
    while after < last:
        yield from _LINKS.run(session, {"chain_name": chain, "after": after, "upto": after + BATCH})
        after += BATCH


_CHECKED = ("visit_id", "kind", "at", "method", "manual_reason", "provider_id")
_EVENTS = table_of(ClockEvent)
# Each clock event beside its link's copy of the same fields (none: no link), by ranges of ids.
_PAIRS = Prepared(
    core_select(
        _EVENTS.c.id,
        _LOG.c.seq,
        *(_EVENTS.c[name] for name in _CHECKED),
        *(_LOG.c[name] for name in _CHECKED),
    )
    .select_from(_EVENTS.outerjoin(_LOG, _LOG.c.event_id == _EVENTS.c.id))
    .where(_EVENTS.c.id > bindparam("after"), _EVENTS.c.id <= bindparam("upto"))
    .order_by(_EVENTS.c.id)
)
_LAST_EVENT = Prepared(core_select(func.max(_EVENTS.c.id)))


def _differs(pair: tuple[Any, ...]) -> str:
    """The first field of a clock event that differs from its link (a row of :data:`_PAIRS`), or ``""``.
    Both are compared as stored."""
    # A provider whose account was deleted leaves the event without them (ON DELETE SET NULL).
    if pair[2:7] == pair[8:13] and pair[7] in (None, pair[13]):
        return ""
    return next((name for i, name in enumerate(_CHECKED[:-1]) if pair[2 + i] != pair[8 + i]), "provider_id")


def _pairs(session: Session) -> Iterator[tuple[Any, ...]]:
    last = _LAST_EVENT.run(session, {})[0][0] or 0
    after = 0
    while after < last:
        yield from _PAIRS.run(session, {"after": after, "upto": after + BATCH})
        after += BATCH


def verify(session: Session, chain: str = CHAIN) -> Verification:
    """Recompute the chain from its first link; name the first link that does not hold."""
    session.flush()
    expected_prev, seq = GENESIS, 0
    stamp = _stamps(session)
    form: Any = _form  # called with the row's columns in order
    sha256 = hashlib.sha256
    for link in _links(session, chain):
        seq += 1
        if link[13] != seq:
            return Verification(seq - 1, seq, f"link {seq} is missing (the next one is {link[13]})")
        if link[15] != expected_prev:
            return Verification(seq - 1, seq, f"link {seq} does not name the previous link's hash")
        text = form(stamp(link[0]), *link[1:12], stamp(link[12]), link[13], link[14])
        if sha256(f"{expected_prev}\n{text}".encode()).hexdigest() != link[16]:
            return Verification(seq - 1, seq, f"link {seq} was changed after it was written")
        expected_prev = link[16]
    head = session.get(ClockChainHead, chain)
    if head is not None and (head.seq, head.hash) != (seq, expected_prev):
        return Verification(
            seq, min(seq + 1, head.seq), f"the chain ends at link {seq}, its head says {head.seq}"
        )
    # Every clock event must be the one its link says.
    for pair in _pairs(session):
        if pair[1] is None:
            return Verification(seq, seq + 1, f"clock event {pair[0]} has no link in the log")
        changed = _differs(pair)
        if changed:
            return Verification(
                seq, pair[1], f"clock event {pair[0]} differs from link {pair[1]} ({changed})"
            )
    return Verification(seq)
