"""The digests of a clearing account, kept up to date as transfers settle (statements in version 2).

The settled transfers with a peer node are grouped in 256 groups (``bucket``: the first byte of the
SHA-256 of the transfer id, in hex, stored on the transfer). A group's digest is
``<number of transfers>:<sum>``, the sum (32 hex digits) being that of the first 128 bits of the
SHA-256 of each transfer's line ``id|payer's node|amount``, modulo 2**128: adding a transfer changes one
row, in the transaction that settles it (:func:`settled`), so a statement reads 256 rows instead of
hashing every transfer again, and a reconciliation reads only the groups whose digests differ.

The digests of a clearing account opened before they existed (``digests_ready`` false) are built once
by the time bank's job (:func:`build_missing`); until then a statement computes them from the transfers.
Every settlement that changes a clearing balance also changes that account's row, so the transactions
that change a peer's digests take turns on it (and :func:`rebuild` takes the same lock first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlmodel import Session

from node.activitypub import addressing
from node.core.prepared import fetch_all
from node.core.sqlbase import table_of
from node.timebank.models import ClearingDigest, TimebankAccount, Transfer

VERSION = 2
MODULUS = 2**128
DIGESTS = table_of(ClearingDigest)
_ACCOUNTS = table_of(TimebankAccount)
_TRANSFERS = table_of(Transfer)


def bucket_of(uri: str) -> str:
    """The group of a transfer id."""
    return hashlib.sha256(uri.encode()).hexdigest()[:2]


def payer_node(ours: str, peer: str, direction: str, kind: str) -> str:
    """The payer's node of a transfer with ``peer`` as the lines say it (none for a settlement)."""
    if kind == "settlement":
        return ""
    return ours if direction == "out" else peer


def line_hash(uri: str, payer_node: str, amount: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{uri}|{payer_node}|{amount}".encode()).digest()[:16], "big")


def text_of(transfers: int, total: int) -> str:
    return f"{transfers}:{total % MODULUS:032x}"


def compute(found: Iterable[tuple[str, str, int]]) -> dict[str, str]:
    """The digests of ``(id, payer's node, amount)`` of settled transfers, by group."""
    groups: dict[str, list[int]] = {}
    for uri, payer_node, amount in found:
        group = groups.setdefault(bucket_of(uri), [0, 0])
        group[0] += 1
        group[1] += line_hash(uri, payer_node, amount)
    return {bucket: text_of(count, total) for bucket, (count, total) in groups.items()}


def stored(session: Session, peer: str) -> dict[str, str] | None:
    """The kept digests of the clearing account with ``peer`` (None when they are not built yet)."""
    ready = session.execute(
        select(_ACCOUNTS.c.digests_ready).where(_ACCOUNTS.c.peer == peer.lower())
    ).scalar_one_or_none()
    if ready is False:
        return None
    rows = session.execute(
        select(DIGESTS.c.bucket, DIGESTS.c.transfers, DIGESTS.c.total).where(DIGESTS.c.peer == peer.lower())
    )
    return {bucket: f"{count}:{total}" for bucket, count, total in rows if count}


def settled(session: Session, peer: str, uri: str, payer_node: str, amount: int) -> None:
    """Count a transfer with ``peer`` that settled in this transaction (after its clearing account's
    balance changed: its row is locked)."""
    peer = peer.lower()
    ready = session.execute(select(_ACCOUNTS.c.digests_ready).where(_ACCOUNTS.c.peer == peer)).scalar()
    if not ready:
        return  # built later from the transfers, this one included
    bucket = bucket_of(uri)
    where = (DIGESTS.c.peer == peer) & (DIGESTS.c.bucket == bucket)
    row = session.execute(select(DIGESTS.c.transfers, DIGESTS.c.total).where(where)).first()
    value = line_hash(uri, payer_node, amount)
    if row is None:
        session.execute(insert(DIGESTS).values(peer=peer, bucket=bucket, transfers=1, total=f"{value:032x}"))
        return
    total = (int(row[1], 16) + value) % MODULUS
    session.execute(update(DIGESTS).where(where).values(transfers=row[0] + 1, total=f"{total:032x}"))


def rebuild(session: Session, peer: str, found: Iterable[tuple[str, str, int]]) -> None:
    """Store the digests of ``found`` (all the settled transfers with ``peer``, read after the clearing
    account's row was locked) as that account's."""
    peer = peer.lower()
    session.execute(DIGESTS.delete().where(DIGESTS.c.peer == peer))
    rows = [
        {"peer": peer, "bucket": bucket, "transfers": int(text.split(":")[0]), "total": text.split(":")[1]}
        for bucket, text in compute(found).items()
    ]
    if rows:
        session.execute(insert(DIGESTS), rows)
    session.execute(update(_ACCOUNTS).where(_ACCOUNTS.c.peer == peer).values(digests_ready=True))


def settled_lines(
    session: Session, ours: str | None, peer: str | None = None
) -> dict[str, list[tuple[str, str, int]]]:
    """``(id, payer's node, amount)`` of the settled transfers with ``peer`` (every peer when None),
    by peer: what the digests cover (``ours``: this node's domain; None: that of the ids this node
    minted, the transfers it paid)."""
    table = _TRANSFERS
    query = select(table.c.peer, table.c.uri, table.c.direction, table.c.kind, table.c.amount).where(
        table.c.state == "settled",
        table.c.peer.is_not(None) if peer is None else table.c.peer == peer.lower(),
    )
    found: dict[str, list[tuple[str, str, int]]] = {}
    for of, uri, direction, kind, amount in fetch_all(session, query):
        here = ours if ours is not None else addressing.domain_of(uri)
        found.setdefault(of, []).append((uri, payer_node(here, of, direction, kind), int(amount)))
    return found


def check(session: Session, ours: str | None) -> list[str]:
    """The clearing accounts whose kept digests are not those of their settled transfers (``ours`` as
    for :func:`settled_lines`)."""
    found = settled_lines(session, ours)
    problems = []
    ready = session.execute(
        select(_ACCOUNTS.c.peer).where(_ACCOUNTS.c.digests_ready.is_(True), _ACCOUNTS.c.peer.is_not(None))
    ).scalars()
    for peer in ready:
        if stored(session, peer) != compute(found.get(peer, [])):
            problems.append(f"clearing account {peer}: its kept digests do not match its settled transfers")
    return problems
